#!/usr/bin/env bash
# The whole test suite: install everything, lint, type-check, then pytest (unit, SDK standard suites,
# stand-ins, end-to-end through real processes and Meltano). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
orchestration/install.sh  # the Dagster project's own pinned requirements (tests/orchestration/)
.venv/bin/meltano install >/dev/null 2>&1 || .venv/bin/meltano install
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy tap-stripe-billing/tap_stripe_billing target-kissmetrics/target_kissmetrics stand_ins local_pipeline scripts orchestration
echo "== pytest"
.venv/bin/pytest "$@"
