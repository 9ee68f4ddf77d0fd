#!/usr/bin/env bash
# Install the Dagster project (orchestration/) into the project's .venv, beside Meltano, the tap and the
# target it runs: exact versions from orchestration/constraints.txt, which is compiled against the root
# constraints.txt, so both locks agree (regenerate it with the command in its header after changing either).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/uv pip install --quiet --python .venv/bin/python \
  -c constraints.txt -c orchestration/constraints.txt -r orchestration/requirements.txt
