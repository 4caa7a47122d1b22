"""Argument helpers every command module shares (a leaf: it imports no command)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from signals.config import Config, ConfigError
from signals.durations import parse_duration
from signals.threats_config import ThreatsConfig

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



def add_threats_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--threats", type=Path, metavar="FILE",
                       help="emergent-threat detectors' config (default: threats.yaml next to "
                            "the thresholds file, when present; docs/threats.md)")
    group.add_argument("--no-threats", action="store_true",
                       help="run without the emergent-threat detectors")


def threats_or_exit(args: argparse.Namespace, config: Config) -> ThreatsConfig | None:
    """The detectors' config the flags ask for: ``--threats FILE``, none with
    ``--no-threats``, else ``threats.yaml`` beside the thresholds file if it exists."""
    from streams.config_files import THREATS_FILE, default_config_path, load_threats

    if getattr(args, "no_threats", False):
        return None
    path: Path | None = getattr(args, "threats", None)
    if path is None:
        beside = (args.config or default_config_path()).parent / THREATS_FILE
        if not beside.is_file():
            return None
        path = beside
    try:
        return load_threats(path, config)
    except ConfigError as exc:
        print(f"harmwatch: invalid threats config:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
