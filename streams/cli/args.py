"""Argument helpers every command module shares (a leaf: it imports no command)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from signals.config import Config, ConfigError
from signals.durations import parse_duration

# A string: argparse's class is not subscriptable at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def duration_arg(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def load_or_exit(path: Path | None) -> Config:
    from streams.config_files import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"harmwatch: invalid config:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="thresholds file (default: $HARMWATCH_CONFIG or config/thresholds.yaml;"
                        " it names the taxonomy file next to it)")

