#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) for development and tests.
#   deploy/kafka/kafka.sh up|down|status [--data-dir var/kafka] [--port 9092]
# Runs from the repository root, so relative paths (the default var/kafka too) are
# relative to it. All the logic is in streams/dev/ (kafka_cli.py, kafka_broker.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then
  PY="$ROOT/.venv/bin/python"
else
  PY=python3
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m streams.dev.kafka_cli "$@"
