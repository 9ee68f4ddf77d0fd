#!/usr/bin/env bash
# See the Dagster project in Dagster's web UI against the local stand-ins: installs everything, starts the
# Stripe stand-in as a Connect platform and the KISSmetrics stand-in, then `dagster dev` on 127.0.0.1:3000
# (Ctrl-C stops all of it). Options: --accounts N (connected accounts), --shards N, --port P.
set -euo pipefail
cd "$(dirname "$0")/.."
orchestration/install.sh
.venv/bin/meltano install >/dev/null 2>&1 || .venv/bin/meltano install
PYTHONPATH=. exec .venv/bin/python scripts/dagster_ui.py "$@"
