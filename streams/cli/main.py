"""The ``harmwatch`` command line: the parser, one module per command group."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from streams.cli import alerts, backtest, calibrate, governance, kafka, misc, run, tune

DESCRIPTION = """\
harmwatch: rolling harm signals per policy area, alerts through Prometheus.

Start here:
  harmwatch run                       built-in traffic simulator, live view, /metrics
  harmwatch backtest --events F.jsonl what would a file of events have paged?
  harmwatch config check              validate config/thresholds.yaml and the taxonomy
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmwatch", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (run, backtest, tune, calibrate, misc, alerts, kafka, governance):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    # The engine's state is freed here, not at interpreter shutdown: the DataSketches
    # bindings (nanobind) report every sketch still alive once their module is torn down.
    del args
    gc.collect()
    return result


if __name__ == "__main__":
    sys.exit(main())
