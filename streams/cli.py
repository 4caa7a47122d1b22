"""The ``harmwatch`` command line."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from signals.config import Config, ConfigError
from signals.durations import parse_duration
from signals.records import SignalRow

DEFAULT_METRICS_PORT = 9464

DESCRIPTION = """\
harmwatch: rolling harm signals per policy area, alerts through Prometheus.

Start here:
  harmwatch run                       built-in traffic simulator, live view, /metrics
  harmwatch backtest --events F.jsonl what would a file of events have paged?
  harmwatch config check              validate config/thresholds.yaml and the taxonomy
"""


def _duration_arg(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> float:
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


# --- run ------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from streams.embedded import RunOptions, run

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
        exit_at_end=args.exit_at_end,
    )
    try:
        return run(config, opts)
    except OSError as exc:
        print(f"harmwatch: {exc}", file=sys.stderr)
        return 2


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run", help="the embedded main job: simulator or file replay, /metrics, live view",
        description="Run the engine without Kafka. With no arguments a built-in simulator "
                    "sends all three streams for every policy area (an hour of history first,"
                    " then live at --speed times real time) and injects an incident every "
                    "six minutes, so alerts visibly fire and resolve.")
    p.add_argument("--events", type=Path, metavar="FILE",
                   help="replay this JSON Lines file instead of the simulator")
    p.add_argument("--speed", type=_positive, metavar="N",
                   help="N seconds of event time per wall second (simulator default 20; "
                        "file default: as fast as possible)")
    p.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT, metavar="PORT",
                   help=f"serve Prometheus metrics here (default {DEFAULT_METRICS_PORT}; 0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", metavar="ADDR",
                   help="address to bind /metrics to (default 127.0.0.1)")
    p.add_argument("--no-live", action="store_true",
                   help="log alert changes as lines instead of the live view")
    p.add_argument("--duration", type=_duration_arg, metavar="D",
                   help="simulator: stop after D of event time (e.g. 2h); default: Ctrl-C")
    p.add_argument("--prefill", type=_duration_arg, default=3600, metavar="D",
                   help="simulator: history replayed at full speed before going live, "
                        "to warm the baselines (default 1h)")
    p.add_argument("--no-incidents", action="store_true", help="simulator: normal traffic only")
    p.add_argument("--seed", type=int, default=7, help="simulator random seed (default 7)")
    p.add_argument("--exit-at-end", action="store_true",
                   help="file replay: exit when the file ends instead of serving metrics")
    add_config_arg(p)
    p.set_defaults(func=_cmd_run)


# --- backtest -------------------------------------------------------------------------


def _cmd_backtest(args: argparse.Namespace) -> int:
    from streams.backtest import episodes_jsonl, run_backtest

    config = load_or_exit(args.config)
    rows: list[SignalRow] | None = [] if args.html else None
    try:
        pipeline = run_backtest(config, args.events, args.signals_out, args.rejects_out,
                                keep_rows=rows)
    except OSError as exc:
        print(f"harmwatch: cannot read or write: {exc.filename or ''}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    episodes = pipeline.engine.episodes
    if args.format == "jsonl":
        sys.stdout.buffer.write(episodes_jsonl(episodes))
        sys.stdout.flush()
    else:
        from streams.report import print_backtest

        print_backtest(config, pipeline)
    if args.html:
        from streams.html_report import render

        engine = pipeline.engine
        summary = (f"{args.events.name}: {engine.counted:,} events counted, "
                   f"{engine.duplicates:,} duplicates, {engine.late:,} late, "
                   f"{pipeline.invalid_total:,} invalid; config {config.digest}")
        args.html.write_text(render(config, rows or [], episodes, summary, args.all_areas),
                             encoding="utf-8")
        print(f"report: {args.html}", file=sys.stderr)
    return 0


def _add_backtest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backtest", help="replay a JSON Lines file: which alerts would have fired",
        description="Replay events from a file through the same engine as the live system "
                    "and print the alert episodes it would have produced. Exit 0 when the "
                    "file was read to its end, 2 when the file or config cannot be read.")
    p.add_argument("--events", type=Path, required=True, metavar="FILE.jsonl",
                   help="events, one JSON object per line (the three streams may be mixed)")
    add_config_arg(p)
    p.add_argument("--format", choices=("text", "jsonl"), default="text",
                   help="text: a table for people (default); jsonl: one episode per line")
    p.add_argument("--signals-out", type=Path, metavar="FILE.jsonl",
                   help="write every closed window's signal values here")
    p.add_argument("--rejects-out", type=Path, metavar="FILE.jsonl",
                   help="write one line per invalid input line with its reason")
    p.add_argument("--html", type=Path, metavar="FILE.html",
                   help="also write a page of charts: each signal that alerted against its "
                        "levels, with the episodes shaded")
    p.add_argument("--all-areas", action="store_true",
                   help="with --html: chart every area and signal, not only those that alerted")
    p.set_defaults(func=_cmd_backtest)


# --- config, schema, simulate ---------------------------------------------------------


def _cmd_config_check(args: argparse.Namespace) -> int:
    from streams.config_files import check_file, default_config_path

    path = args.file or default_config_path()
    try:
        config = check_file(path)
    except ConfigError as exc:
        print(f"{path}: invalid\n{exc}", file=sys.stderr)
        return 1
    if config is None:
        print(f"{path}: ok (taxonomy)")
    else:
        per_signal = Counter(sig for (_, sig) in config.rules)
        print(f"{path}: ok — {len(config.areas)} policy areas, {len(per_signal)} signals, "
              f"{len(config.rules)} area rules, pane {config.pane_s}s, digest {config.digest}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from signals.events import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import datetime as dt

    from streams.simulator import Simulator, schedule

    start = dt.datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        print("harmwatch: --start needs a UTC offset, e.g. 2026-11-24T00:00:00Z", file=sys.stderr)
        return 2
    incidents = schedule(start + dt.timedelta(seconds=args.incidents_after), args.incidents)
    sim = Simulator(start=start, seed=args.seed, incidents=incidents,
                    invalid_rate=args.invalid_rate, duplicate_rate=args.duplicate_rate,
                    scale=args.scale)
    out = sys.stdout.buffer if str(args.out) == "-" else args.out.open("wb")
    lines = 0
    try:
        buf: list[bytes] = []
        for _, line in sim.lines(args.duration):
            buf.append(line)
            if len(buf) >= 10000:
                out.write(b"\n".join(buf) + b"\n")
                lines += len(buf)
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
            lines += len(buf)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    for incident in incidents:
        print(f"incident {incident.kind}: {incident.area} {incident.signal} from "
              f"{incident.start.isoformat()} for {incident.duration_s}s", file=sys.stderr)
    print(f"wrote {lines:,} lines", file=sys.stderr)
    return 0


def _cmd_import_dsa(args: argparse.Namespace) -> int:
    import orjson

    from streams.dsa_import import convert

    written, skipped = 0, Counter[str]()
    try:
        with args.out.open("wb") as out:
            for event, problem in convert(args.files):
                if event is None:
                    skipped[problem or "?"] += 1
                    continue
                out.write(orjson.dumps(event) + b"\n")
                written += 1
    except OSError as exc:
        print(f"harmwatch: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    detail = ", ".join(f"{n} without a usable {col}" for col, n in skipped.items())
    print(f"wrote {written:,} decision events to {args.out}"
          + (f"; skipped {detail}" if detail else ""), file=sys.stderr)
    return 0


def _add_misc(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cfg = sub.add_parser("config", help="check config files",
                         description="Validate config files before they ship.")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = cfg_sub.add_parser(
        "check", help="validate a thresholds or taxonomy file (exit 1 when invalid)",
        description="Validate a thresholds file (and the taxonomy it names) or a taxonomy file;"
                    " each problem names the file, the field and the fix.")
    check.add_argument("file", nargs="?", type=Path, metavar="FILE",
                       help="default: $HARMWATCH_CONFIG or config/thresholds.yaml")
    check.set_defaults(func=_cmd_config_check)

    schema = sub.add_parser("schema", help="print the event contract as JSON Schema")
    schema.set_defaults(func=_cmd_schema)

    sim = sub.add_parser(
        "simulate", help="write simulated events (with incidents) to a JSON Lines file",
        description="Generate the simulator's traffic into a file, for backtests, "
                    "benchmarks and `harmwatch produce`.")
    sim.add_argument("--out", type=Path, required=True, metavar="FILE",
                     help="output file, or - for standard output")
    sim.add_argument("--duration", type=_duration_arg, default=7200, metavar="D",
                     help="event time to cover (default 2h)")
    sim.add_argument("--start", default="2026-11-24T08:00:00+00:00", metavar="TIME",
                     help="event time of the first second (RFC 3339 with offset)")
    sim.add_argument("--incidents", type=int, default=8, metavar="N",
                     help="how many incidents to inject (default 8; 0 for none)")
    sim.add_argument("--incidents-after", type=_duration_arg, default=3600, metavar="D",
                     help="first incident after this much event time (default 1h, so "
                          "baselines are warm)")
    sim.add_argument("--scale", type=_positive, default=1.0,
                     help="multiply every rate (default 1.0, about 1,200 events per minute)")
    sim.add_argument("--invalid-rate", type=float, default=0.0, metavar="P",
                     help="share of extra invalid lines (default 0)")
    sim.add_argument("--duplicate-rate", type=float, default=0.001, metavar="P",
                     help="share of events delivered twice (default 0.001)")
    sim.add_argument("--seed", type=int, default=7)
    sim.set_defaults(func=_cmd_simulate)

    dsa = sub.add_parser(
        "import-dsa", help="turn EU DSA Transparency Database CSV dumps into decision events",
        description="Convert statements of reasons (the database's daily-dump CSV) into "
                    "harmwatch decision events for backtests on real moderation data. "
                    "Categories map to policy areas; no content or user ids are copied.")
    dsa.add_argument("files", nargs="+", type=Path, metavar="CSV")
    dsa.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    dsa.set_defaults(func=_cmd_import_dsa)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harmwatch", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_backtest(sub)
    _add_misc(sub)
    from alerts.commands import register as register_alerts
    from streams.kafka_commands import register as register_kafka

    register_alerts(sub)
    register_kafka(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
