#!/usr/bin/env bash
# The whole test suite: install everything, lint, type-check, then pytest (unit, SDK standard suites,
# stand-ins, end-to-end through real processes and Meltano). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/meltano install >/dev/null 2>&1 || .venv/bin/meltano install
# Byte-compile .venv, Meltano's plugin venvs and our modules (see bootstrap.sh): the suite starts hundreds
# of processes, and Meltano's `uv pip install` writes no .pyc. Only what changed is compiled again.
.venv/bin/python -m compileall -q -j 0 .venv/lib .meltano tap-stripe-billing/tap_stripe_billing \
  target-kissmetrics/target_kissmetrics stand_ins local_pipeline scripts >/dev/null
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy tap-stripe-billing/tap_stripe_billing target-kissmetrics/target_kissmetrics stand_ins local_pipeline scripts orchestration
echo "== pytest"
# Two workers (pytest-xdist; CI has 2 cores), each test file whole on one worker so that a module's shared
# stand-ins and calibration runs are made once. Every test has its own ports, Meltano system database,
# journal and temp folders; each worker its own .meltano/ (tests/conftest.py). `-n 0`: one process.
.venv/bin/pytest -n 2 --dist loadfile "$@"
