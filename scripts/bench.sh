#!/usr/bin/env bash
# The benchmark suite: install (scripts/bootstrap.sh), create the baseline's own venv
# (benchmarks/.venvs/tap-stripe: singer-io tap-stripe 3.3.0 from PyPI, git-ignored), then run every
# benchmark and print one table. Options go to benchmarks/run.py:
#   scripts/bench.sh            full sizes (~10 minutes)
#   scripts/bench.sh --quick    small sizes (~2 minutes)
#   scripts/bench.sh --only requests,backfill,delivery,e2e --details
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
BASE=benchmarks/.venvs/tap-stripe
if [ ! -x "$BASE/bin/tap-stripe" ]; then
  "${PYTHON:-python3}" -m venv "$BASE"
  "$BASE/bin/python" -m pip install --quiet --disable-pip-version-check "tap-stripe==3.3.0"
fi
exec .venv/bin/python -m benchmarks.run "$@"
