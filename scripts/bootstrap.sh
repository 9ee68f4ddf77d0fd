#!/usr/bin/env bash
# Create .venv (once) and install exactly the locked versions of everything the project needs.
# Needs only python3 (>= 3.10) and access to PyPI. Safe to run again: it only syncs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python \
  -c constraints.txt -r requirements-dev.txt \
  -e ./tap-stripe-billing -e ./target-kissmetrics
