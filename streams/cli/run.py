"""``harmwatch run``: the embedded main job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.cli.args import (
    Subparsers,
    add_config_arg,
    add_threats_args,
    duration_arg,
    load_or_exit,
    positive,
    threats_or_exit,
)
from streams.governance.audit_log import DEFAULT_AUDIT_LOG
from streams.ports import DEFAULT_METRICS_PORT


def _cmd_run(args: argparse.Namespace) -> int:
    from streams.embedded.run import RunOptions, run

    config = load_or_exit(args.config)
    if args.events is not None and not args.events.is_file():
        print(f"harmwatch: cannot read {args.events}: no such file", file=sys.stderr)
        return 2
    opts = RunOptions(
        config_path=args.config, events=args.events, speed=args.speed,
        metrics_port=None if args.metrics_port == 0 else args.metrics_port,
        metrics_host=args.metrics_host,
        live=False if args.no_live else None, duration_s=args.duration,
        prefill_s=args.prefill, incidents=not args.no_incidents, seed=args.seed,
        exit_at_end=args.exit_at_end, audit_log=args.audit_log,
        threats=threats_or_exit(args, config),
    )
    try:
        return run(config, opts)
    except OSError as exc:
        print(f"harmwatch: {exc}", file=sys.stderr)
        return 2


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "run", help="the embedded main job: simulator or file replay, /metrics, live view",
        description="Run the engine without Kafka. With no arguments a built-in simulator "
                    "sends all three streams for every policy area (an hour of history first,"
                    " then live at --speed times real time) and injects an incident every "
                    "six minutes, so alerts visibly fire and resolve. With the emergent-threat"
                    " detectors on (threats.yaml beside the thresholds file) the simulator "
                    "also sends tags and advertisers and plants an emerging tag, an "
                    "advertiser concentration and a classifier drop after the history.")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="replay this JSON Lines file instead of the simulator")
    p.add_argument("--speed", type=positive, metavar="N",
                   help="N seconds of event time per wall second (simulator default 20; "
                        "file default: as fast as possible)")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="PORT",
                   help=f"serve Prometheus metrics here (default {DEFAULT_METRICS_PORT}; 0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", metavar="ADDR",
                   help="address to bind /metrics to (default 127.0.0.1)")
    p.add_argument("--no-live", action="store_true",
                   help="log alert changes as lines instead of the live view")
    p.add_argument("--duration", type=duration_arg, metavar="D",
                   help="simulator: stop after D of event time (e.g. 2h); default: Ctrl-C")
    p.add_argument("--prefill", type=duration_arg, default=3600, metavar="D",
                   help="simulator: history replayed at full speed before going live, "
                        "to warm the baselines (default 1h)")
    p.add_argument("--no-incidents", action="store_true", help="simulator: normal traffic only")
    p.add_argument("--seed", type=int, default=7, help="simulator random seed (default 7)")
    p.add_argument("--exit-at-end", action="store_true",
                   help="file replay: exit when the file ends instead of serving metrics")
    p.add_argument("--audit-log", type=Path, default=DEFAULT_AUDIT_LOG, metavar="FILE",
                   help="append one JSON line per config accepted (at start and each reload) "
                        f"or refused (default {DEFAULT_AUDIT_LOG}, under the working directory)")
    add_config_arg(p)
    add_threats_args(p)
    p.set_defaults(func=_cmd_run)

