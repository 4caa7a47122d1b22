"""The arguments every command that talks to the broker shares, and its settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from signals.config import ConfigError

if TYPE_CHECKING:
    from streams.kafka.settings import KafkaSettings


def settings_or_exit(args: argparse.Namespace) -> KafkaSettings:
    """The kafka settings file with the command line's overrides; exits 2 when invalid."""
    from streams.kafka.settings import load_kafka_settings

    try:
        return load_kafka_settings(
            args.kafka_config, broker=args.broker, topic_prefix=args.topic_prefix,
            app_id=getattr(args, "app_id", None), partitions=getattr(args, "partitions", None),
            idle_after_s=getattr(args, "idle_after", None))
    except ConfigError as exc:
        print(f"harmwatch: invalid kafka settings:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_kafka_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="HOST:PORT",
                   help="Kafka bootstrap server (default: $HARMWATCH_BROKER, else "
                        "config/kafka.yaml, else 127.0.0.1:9092)")
    p.add_argument("--kafka-config", type=Path, metavar="FILE",
                   help="kafka settings (default: $HARMWATCH_KAFKA_CONFIG or config/kafka.yaml)")
    p.add_argument("--topic-prefix", metavar="PREFIX",
                   help="prefix of every topic name (default harmwatch.)")
