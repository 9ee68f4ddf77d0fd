#!/usr/bin/env bash
# Install the Dagster project (orchestration/) into the project's .venv, beside Meltano, the tap and the
# target it runs: scripts/bootstrap.sh installs orchestration/requirements.txt with the exact versions of
# orchestration/constraints.txt, which is compiled against the root constraints.txt so both locks agree
# (regenerate it with the command in its header after changing either).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/bootstrap.sh
