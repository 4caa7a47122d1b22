"""CLI commands of the streaming path (Kafka and Faust): dev kafka, worker, topics, produce."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the streaming commands to the ``harmwatch`` parser."""
