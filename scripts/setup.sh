#!/usr/bin/env bash
# Creates .venv and installs harmwatch with its test tools. Idempotent: a rerun only
# reinstalls the project itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
# The engine's hot loop compiled with mypyc (falls back to pure Python if it cannot).
bash scripts/build-native.sh
