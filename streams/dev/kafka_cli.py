"""``harmwatch dev kafka up|down|status`` (also ``deploy/kafka/kafka.sh`` and
``python -m streams.dev.kafka_cli``): a local broker that outlives the command."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from streams.dev.kafka_broker import DEFAULT_PORT, PROPERTIES_FILE, LocalKafka, read_properties
from streams.dev.kafka_jars import KAFKA_VERSION


def _broker_from_args(args: argparse.Namespace) -> LocalKafka:
    """The broker for ``--data-dir``; without ``--port``, the port it was last run on."""
    data_dir = Path(args.data_dir)
    port = args.port
    if port is None:
        listeners = read_properties(data_dir / PROPERTIES_FILE).get("advertised.listeners", "")
        match = re.search(r":(\d+)$", listeners)
        port = int(match.group(1)) if match else DEFAULT_PORT
    return LocalKafka(data_dir, port=port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmwatch dev kafka",
        description=f"Run a local single-node Apache Kafka {KAFKA_VERSION} (KRaft) broker.",
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument(
        "--data-dir", default="var/kafka", help="broker state and log (default: var/kafka)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="client port (default: last used, else 9092)"
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for readiness on up"
    )
    return parser


def _status_lines(broker: LocalKafka) -> Iterator[str]:
    pid = broker.pid()
    if pid is None:
        yield f"stopped {broker.bootstrap} (data dir {broker.data_dir})"
        return
    state = "running" if broker.is_ready() else "running (not answering yet)"
    yield f"{state} {broker.bootstrap} pid {pid} log {broker.log_path}"


def main(argv: list[str] | None = None) -> int:
    """``up`` starts and detaches, ``down`` stops, ``status`` reports.

    Exit codes: 0 on success (``status``: running), 1 on failure, 3 when ``status``
    finds the broker stopped (the LSB convention for "not running").
    """
    args = _parser().parse_args(argv)
    broker = _broker_from_args(args)
    try:
        if args.command == "up":
            was_running = broker.is_running()
            started = time.monotonic()
            broker.start(timeout=args.timeout)
            took = time.monotonic() - started
            verb = "already running" if was_running else f"up in {took:.1f}s"
            print(f"kafka {KAFKA_VERSION} {verb}: {broker.bootstrap} pid {broker.pid()}")
            return 0
        if args.command == "down":
            running = broker.is_running()
            broker.stop()
            print("kafka stopped" if running else "kafka was not running")
            return 0
        for line in _status_lines(broker):
            print(line)
        return 0 if broker.is_running() else 3
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
