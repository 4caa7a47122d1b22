"""CLI commands of the alerting side: rules and dashboards."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the alerting commands to the ``harmwatch`` parser."""
