#!/usr/bin/env bash
# The main job: install everything, start the local Stripe and KISSmetrics stand-ins, run the hourly
# pipeline twice with Stripe's clock advanced in between, print what KISSmetrics received, stop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/meltano install >/dev/null 2>&1 || .venv/bin/meltano install
PYTHONPATH=. exec .venv/bin/python scripts/demo.py "$@"
