#!/usr/bin/env bash
# Regenerates the hashed lock files from pyproject.toml's ranges; run after changing a
# dependency there (tests/unit/test_lock_files.py fails until you do):
#   bash scripts/lock.sh            # --upgrade to move every pin to the newest allowed
# requirements/dev.lock (runtime + dev) is what scripts/setup.sh and CI install;
# requirements/runtime.lock is what docker/Dockerfile installs. uv (from PyPI) is installed
# into a throwaway venv, so nothing is added to the project's own environment.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q --disable-pip-version-check uv
compile() {
  "$tools/venv/bin/uv" pip compile pyproject.toml --generate-hashes --universal \
    --python-version 3.11 --quiet "$@"
}
mkdir -p requirements
# Keep the current pins unless --upgrade is given (uv reads the existing output file).
compile --extra dev -o requirements/dev.lock "${@}"
# The image's pins are dev.lock's, so it runs exactly the versions CI tested.
compile -c requirements/dev.lock -o requirements/runtime.lock "${@}"
echo "lock: requirements/dev.lock and requirements/runtime.lock regenerated"
