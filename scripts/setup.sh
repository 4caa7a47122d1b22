#!/usr/bin/env bash
# Creates .venv and installs harmwatch with its test tools from the hashed lock file
# (requirements/dev.lock: every runtime and dev dependency pinned, generated from the ranges in
# pyproject.toml by scripts/lock.sh), so every machine and CI run tests the same versions.
# Idempotent: a rerun only reinstalls the project itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
  -r requirements/dev.lock
# --no-deps: everything it needs came from the lock above; nothing may be resolved afresh.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
# The engine's hot loop compiled with mypyc. A developer machine without a C compiler still
# gets a working (pure-Python, slower) install, with a warning it cannot miss; CI does not
# rely on this: .ci/run builds again itself and fails if the build or the check fails.
if ! bash scripts/build-native.sh; then
  cat >&2 <<'MSG'
setup: WARNING: the compiled engine could not be built (see the error above).
setup: harmwatch is installed and works, but runs the engine as pure Python (slower).
setup: install a C compiler and Python headers, then rerun `bash scripts/build-native.sh`.
MSG
fi
