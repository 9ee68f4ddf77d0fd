#!/usr/bin/env bash
# The benchmark suite: install (scripts/bootstrap.sh), create the baselines' own venvs
# (benchmarks/.venvs/tap-stripe: singer-io tap-stripe 3.3.0; benchmarks/.venvs/airbyte-stripe: Airbyte
# airbyte-source-stripe 5.14.1, which needs a Python below 3.12; both from PyPI, git-ignored), then run
# every benchmark and print one table. Options go to benchmarks/run.py:
#   scripts/bench.sh            full sizes (~25 minutes on a quiet 2-core machine)
#   scripts/bench.sh --quick    small sizes (~6 minutes)
#   scripts/bench.sh --only requests,peers,backfill,delivery,e2e --details
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
BASE=benchmarks/.venvs/tap-stripe
if [ ! -x "$BASE/bin/tap-stripe" ]; then
  "${PYTHON:-python3}" -m venv "$BASE"
  "$BASE/bin/python" -m pip install --quiet --disable-pip-version-check "tap-stripe==3.3.0"
fi
AIRBYTE=benchmarks/.venvs/airbyte-stripe
if [ ! -x "$AIRBYTE/bin/python" ]; then
  # The peer's own venv needs a Python below 3.12: the machine's, else one uv already has (uv fetches
  # Pythons from GitHub, not PyPI, so it may not be able to download one here).
  rm -f "$AIRBYTE.unavailable"
  OLD_PY=""
  for candidate in python3.11 python3.10 python3.9; do
    if command -v "$candidate" >/dev/null 2>&1; then OLD_PY=$(command -v "$candidate"); break; fi
  done
  if [ -z "$OLD_PY" ] && command -v uv >/dev/null 2>&1; then
    OLD_PY=$(uv python find '<3.12' 2>/dev/null || true)
  fi
  if [ -z "$OLD_PY" ]; then
    echo "no Python below 3.12 here (looked for python3.11/3.10/3.9 on PATH and 'uv python find <3.12')" \
      > "$AIRBYTE.unavailable"
  elif ! { "$OLD_PY" -m venv "$AIRBYTE" && "$AIRBYTE/bin/python" -m pip install --quiet \
      --disable-pip-version-check "airbyte-source-stripe==5.14.1"; }; then
    echo "pip could not install airbyte-source-stripe==5.14.1 with $OLD_PY" > "$AIRBYTE.unavailable"
    rm -rf "$AIRBYTE"
  fi
fi
# Every measured process starts from bytecode, as an installed package does: this environment sets
# PYTHONDONTWRITEBYTECODE, which made each process compile every module it imports (2-4 s of CPU per
# process start, in the plugins' and the floors' CPU time alike). Compiled once, then cached.
unset PYTHONDONTWRITEBYTECODE
for venv in .venv benchmarks/.venvs/tap-stripe "$AIRBYTE"; do
  if [ -x "$venv/bin/python" ]; then
    "$venv/bin/python" -m compileall -q -j 0 \
      "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
      "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" >/dev/null 2>&1 || true
  fi
done
.venv/bin/python -m compileall -q -j 0 tap-stripe-billing target-kissmetrics stand_ins benchmarks >/dev/null 2>&1 || true
exec .venv/bin/python -m benchmarks.run "$@"
