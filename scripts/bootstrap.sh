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
# --compile-bytecode: every `meltano`, tap, target and stand-in process imports thousands of modules; without
# .pyc files (uv writes none by default, and PYTHONDONTWRITEBYTECODE stops Python caching them) each start
# compiles them again (`meltano --version`: 2.3 s instead of 0.8 s). The Dagster project's own locked
# requirements (orchestration/) come too, so every test, the quick subset included, finds them.
.venv/bin/uv pip install --quiet --python .venv/bin/python --compile-bytecode \
  -c constraints.txt -r requirements-dev.txt \
  -c orchestration/constraints.txt -r orchestration/requirements.txt \
  -e ./tap-stripe-billing -e ./target-kissmetrics
