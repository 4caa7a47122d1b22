"""``harmwatch backtest``: replay a file, print or write what would have paged."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from signals.config import Config
from signals.records import SignalRow
from streams.cli.args import (
    Subparsers,
    add_config_arg,
    add_threats_args,
    load_or_exit,
    threats_or_exit,
)
from streams.cli.kafka_args import add_kafka_args

if TYPE_CHECKING:
    from signals.pipeline import Pipeline
    from signals.threats_config import ThreatsConfig
    from streams.backtest.incidents import KnownIncident


def load_incidents_or_exit(path: Path, config: Config) -> list[KnownIncident]:
    from signals.definitions import SIGNALS
    from streams.backtest.incidents import IncidentsError, load_incidents

    try:
        return load_incidents(path, config.areas, SIGNALS)
    except IncidentsError as exc:
        print(f"harmwatch: invalid incidents file:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _cmd_backtest(args: argparse.Namespace) -> int:
    from signals.records import episodes_jsonl
    from streams.backtest.replay import Coverage, run_backtest

    config = load_or_exit(args.config)
    threats = threats_or_exit(args, config)
    incidents = None
    if args.incidents is not None:
        incidents = load_incidents_or_exit(args.incidents, config)
    scoring = incidents is not None or args.score_out is not None
    rows: list[SignalRow] | None = [] if args.html else None
    coverage = Coverage(config.pane_s) if scoring else None
    if (args.events is None) == (not args.from_kafka):
        print("harmwatch: give either --events FILE.jsonl or --from-kafka", file=sys.stderr)
        return 2
    if args.from_kafka and (args.partitions or args.rejects_out):
        print("harmwatch: --from-kafka replays the topics' own partitions and leaves invalid "
              "events in the dead-letter topic: drop --partitions and --rejects-out",
              file=sys.stderr)
        return 2
    try:
        if args.from_kafka:
            kept = rows if rows is not None or coverage is None else []
            pipeline, source = _from_kafka(args, config, kept, threats)
            if coverage is not None and kept is not None:
                coverage.add(kept)
        elif args.partitions:
            from streams.backtest.partitioned import run_partitioned

            kept = rows if rows is not None or coverage is None else []
            pipeline = run_partitioned(config, args.events, args.partitions, args.signals_out,
                                       args.rejects_out, keep_rows=kept, threats=threats)
            if coverage is not None and kept is not None:
                coverage.add(kept)
        else:
            pipeline = run_backtest(config, args.events, args.signals_out, args.rejects_out,
                                    keep_rows=rows, coverage=coverage, threats=threats)
    except OSError as exc:
        print(f"harmwatch: cannot read or write: {exc.filename or ''}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    if not args.from_kafka:
        source = args.events.name
    episodes = pipeline.engine.evaluator.episodes
    result = None
    if coverage is not None:
        from streams.backtest.scoring import score

        result = score(episodes, incidents or [], coverage.span)
    if args.format == "jsonl":
        sys.stdout.buffer.write(episodes_jsonl(episodes, config.digest))
        sys.stdout.flush()
    else:
        from streams.backtest.text_report import print_backtest

        console = print_backtest(config, pipeline)
        if result is not None:
            from streams.backtest.score_report import print_score

            print_score(result, console)
    if result is not None and args.score_out is not None:
        import json

        args.score_out.write_text(json.dumps(result.to_dict(config.digest), indent=2) + "\n",
                                  encoding="utf-8")
        print(f"score file: {args.score_out}", file=sys.stderr)
    if args.html:
        from streams.backtest.html_report import render

        engine = pipeline.engine
        summary = (f"{source}: {engine.ingest.counted:,} events counted, "
                   f"{engine.ingest.duplicates:,} duplicates, {engine.ingest.late:,} late, "
                   f"{pipeline.invalid_total:,} invalid; config {config.digest}")
        args.html.write_text(render(config, rows or [], episodes, summary, args.all_areas,
                                    incidents or [], result), encoding="utf-8")
        print(f"report: {args.html}", file=sys.stderr)
    return 0


def _from_kafka(args: argparse.Namespace, config: Config, kept: list[SignalRow] | None,
                threats: ThreatsConfig | None) -> tuple[Pipeline, str]:
    """Replay the source topics as the workers read them; exits 2 when they cannot be."""
    from streams.backtest.kafka_logs import LogReadError, open_source_logs
    from streams.backtest.log_replay import replay_logs
    from streams.cli.kafka_args import settings_or_exit

    settings = settings_or_exit(args)
    try:
        logs, batches = open_source_logs(settings)
        print(f"from-kafka: {logs.records:,} records in {len(logs.streams)} partitions of "
              f"{', '.join(settings.source_topics.values())} on {settings.broker}",
              file=sys.stderr)
        pipeline = replay_logs(config, logs.streams, batches, args.signals_out, kept, threats)
    except LogReadError as exc:
        print(f"harmwatch: cannot read the source topics: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return pipeline, f"{settings.topic_prefix}* on {settings.broker}"


def _partitions(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1024:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 1 to 1024 "
                                         "(the worker's `partitions` setting)")
    return int(text)


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "backtest", help="replay a JSON Lines file: which alerts would have fired",
        description="Replay events from a file (or, with --from-kafka, the source topics "
                    "as the workers read them) through the same engine as the live system "
                    "and print the alert episodes it would have produced. Exit 0 when the "
                    "input was read to its end, 2 when it or the config cannot be read.")
    p.add_argument("--events", type=Path, metavar="FILE.jsonl",
                   help="events, one JSON object per line (the three streams may be mixed)")
    p.add_argument("--from-kafka", action="store_true",
                   help="instead of a file, replay the source topics on the broker as the "
                        "workers read them: each partition's log in offset order with the "
                        "watermark records the workers' idle check wrote, the future-date "
                        "guard against each record's timestamp; the live workers' exact "
                        "rows, episodes and counters up to the last watermark in the logs")
    add_kafka_args(p)
    add_config_arg(p)
    add_threats_args(p)
    p.add_argument("--format", choices=("text", "jsonl"), default="text",
                   help="text: a table for people (default); jsonl: one episode per line")
    p.add_argument("--signals-out", type=Path, metavar="FILE.jsonl",
                   help="write every closed window's signal values here")
    p.add_argument("--rejects-out", type=Path, metavar="FILE.jsonl",
                   help="write one line per invalid input line with its reason")
    p.add_argument("--html", type=Path, metavar="FILE.html",
                   help="also write a page of charts: each signal that alerted against its "
                        "levels, with the episodes shaded (with --incidents: the score on top "
                        "and the incidents marked on each chart of their area)")
    p.add_argument("--all-areas", action="store_true",
                   help="with --html: chart every area and signal, not only those that alerted")
    p.add_argument("--partitions", type=_partitions, metavar="N",
                   help="replay as a worker with N partitions per source topic sees it "
                        "(routed by event_id as `harmwatch produce` does; lateness per "
                        "partition): the worker's exact rows and episodes")
    p.add_argument("--incidents", type=Path, metavar="FILE",
                   help="known incidents (CSV or YAML rows: policy_area, start, end, optional "
                        "signal and label, e.g. from `simulate --incidents-out`): score the "
                        "alerts — caught or missed and delay per incident, false episodes, "
                        "pages per day, per rule")
    p.add_argument("--score-out", type=Path, metavar="FILE.json",
                   help="write the score as JSON (without --incidents every episode is false)")
    p.set_defaults(func=_cmd_backtest)

