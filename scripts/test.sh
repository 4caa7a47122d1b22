#!/usr/bin/env bash
# The whole test suite: unit, property and integration (real Kafka, Prometheus, Alertmanager,
# all started by the tests themselves). Run after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
