"""CLI commands of the streaming path (Kafka and Faust): dev kafka, worker, topics, produce."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.cli.kafka_args import add_kafka_args, settings_or_exit
from streams.ports import DEFAULT_WORKER_PORT as DEFAULT_WEB_PORT

# --- dev kafka ---------------------------------------------------------------------------


def _cmd_dev_kafka(args: argparse.Namespace) -> int:
    from streams.dev.kafka_cli import main

    argv = [args.action, "--data-dir", args.data_dir, "--timeout", str(args.timeout)]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    return main(argv)


# --- worker ------------------------------------------------------------------------------


def _cmd_worker(args: argparse.Namespace) -> int:
    from streams.cli.args import load_or_exit, threats_or_exit
    from streams.kafka.options import WorkerOptions
    from streams.kafka.worker import run_worker
    from streams.malloc_arenas import cap_malloc_arenas

    cap_malloc_arenas()  # before Faust starts its consumer thread
    config = load_or_exit(args.config)
    threats = threats_or_exit(args, config)
    settings = settings_or_exit(args)
    opts = WorkerOptions(web_port=args.web_port, web_host=args.web_host,
                         signals_out=args.signals_out, episodes_out=args.episodes_out,
                         episodes_log=args.episodes_log, config_path=args.config,
                         audit_log=args.audit_log, loglevel=args.loglevel.upper(),
                         threats=threats)
    return run_worker(config, settings, opts, give_up_after_s=args.give_up_after)


# --- topics ------------------------------------------------------------------------------


def _cmd_topics_create(args: argparse.Namespace) -> int:
    from streams.kafka.broker_check import broker_reachable
    from streams.kafka.topics import TopicError, create_topics

    settings = settings_or_exit(args)
    if not broker_reachable(settings.broker):
        print(f"harmwatch: Kafka broker at {settings.broker} not reachable", file=sys.stderr)
        return 1
    try:
        done = create_topics(settings)
    except TopicError as exc:
        print(f"harmwatch: {exc}", file=sys.stderr)
        return 1
    for name, what in done:
        print(f"{what:8} {name}")
    return 0


# --- produce -----------------------------------------------------------------------------


def _cmd_produce(args: argparse.Namespace) -> int:
    from streams.kafka.broker_check import broker_reachable
    from streams.kafka.producer import produce_file

    settings = settings_or_exit(args)
    if not args.events.is_file():
        print(f"harmwatch: cannot read {args.events}: no such file", file=sys.stderr)
        return 2
    pane_s = 60
    if args.final_watermark:
        from streams.cli.args import load_or_exit

        pane_s = load_or_exit(args.config).pane_s
    if not broker_reachable(settings.broker):
        print(f"harmwatch: Kafka broker at {settings.broker} not reachable", file=sys.stderr)
        return 1
    from streams.kafka.topics import missing_topics

    wanted = [*settings.source_topics.values(), *([args.invalid_to] if args.invalid_to else [])]
    missing = missing_topics(settings.broker, wanted)
    if missing:
        print(f"harmwatch: topic {', '.join(missing)} does not exist; run `harmwatch topics "
              f"create` first", file=sys.stderr)
        return 1
    stats = produce_file(settings, args.events, rate=args.rate, invalid_to=args.invalid_to,
                         final_watermark=args.final_watermark, pane_s=pane_s)
    rate = stats.sent / stats.seconds if stats.seconds else 0.0
    topics = ", ".join(f"{t} {n:,}" for t, n in sorted(stats.per_topic.items()))
    print(f"produced {stats.sent:,} messages in {stats.seconds:.1f}s ({rate:,.0f}/s): {topics};"
          f" {stats.invalid:,} invalid", file=sys.stderr)
    if stats.watermark is not None:
        print(f"final watermark {stats.watermark} sent to every source partition",
              file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the streaming commands to the ``harmwatch`` parser."""
    from streams.cli.args import add_config_arg, add_threats_args, positive

    dev = sub.add_parser("dev", help="local development services",
                         description="Local services for development and tests.")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True, metavar="SERVICE")
    kafka = dev_sub.add_parser(
        "kafka", help="a local single-node Apache Kafka (KRaft) broker: up, down, status",
        description="Start (detached), stop or check a local Apache Kafka broker built from "
                    "the Maven jars (deploy/kafka/README.md). status exits 3 when stopped.")
    kafka.add_argument("action", choices=("up", "down", "status"))
    kafka.add_argument("--data-dir", default="var/kafka", help="default var/kafka")
    kafka.add_argument("--port", type=int, help="client port (default: last used, else 9092)")
    kafka.add_argument("--timeout", type=float, default=90.0,
                       help="seconds to wait for readiness on up (default 90)")
    kafka.set_defaults(func=_cmd_dev_kafka)

    from signals.snapshots import KEEP_CLOSED_EPISODES
    from streams.governance.audit_log import DEFAULT_AUDIT_LOG

    w = sub.add_parser(
        "worker", help="run a streaming worker (Kafka + Faust); several share the partitions",
        description="Consume the decisions, appeals and reports topics, dead-letter invalid "
                    "messages, keep window state in changelog-backed tables and serve "
                    "/metrics. The thresholds file is reloaded when it changes (a file that "
                    "does not validate is refused and the running config kept). Start more "
                    "workers with the same app id to share the load. "
                    "Waits (with backoff) for the broker when it is not there yet.")
    add_kafka_args(w)
    add_config_arg(w)
    add_threats_args(w)
    w.add_argument("--app-id", help="Faust app id = consumer group (default harmwatch)")
    w.add_argument("--partitions", type=int,
                   help="partitions of the source topics (default from config, 6)")
    w.add_argument("--web-port", type=int, default=DEFAULT_WEB_PORT, metavar="PORT",
                   help=f"port of /metrics (default {DEFAULT_WEB_PORT})")
    w.add_argument("--web-host", default="127.0.0.1", metavar="ADDR",
                   help="address to bind /metrics to (default 127.0.0.1)")
    w.add_argument("--signals-out", type=Path, metavar="FILE.jsonl",
                   help="append every closed window's signal rows here (as backtest "
                        "--signals-out; at-least-once: a restart may repeat a row)")
    w.add_argument("--episodes-out", type=Path, metavar="FILE.jsonl",
                   help="keep the alert episodes of this worker's areas here (rewritten: "
                        "the open ones and the newest closed ones, as /episodes)")
    w.add_argument("--episodes-log", type=Path, metavar="FILE.jsonl",
                   help="append every alert episode here once when it closes: the full "
                        "history (--episodes-out and /episodes keep the newest "
                        f"{KEEP_CLOSED_EPISODES} closed ones per area); at-least-once")
    w.add_argument("--audit-log", type=Path, default=DEFAULT_AUDIT_LOG, metavar="FILE",
                   help="append one JSON line per config accepted (at start and at each hot "
                        "reload of --config) or refused (default "
                        f"{DEFAULT_AUDIT_LOG}, under the working directory)")
    w.add_argument("--idle-after", type=float, metavar="SECONDS",
                   help="after this long without a message, write a watermark record into a "
                        "caught-up source partition so the merge does not wait for it "
                        "(0: never; default from config, 60)")
    w.add_argument("--give-up-after", type=float, metavar="SECONDS",
                   help="stop waiting for an unreachable broker after this long "
                        "(default: wait forever)")
    w.add_argument("--loglevel", default="warning",
                   choices=("debug", "info", "warning", "error"))
    w.set_defaults(func=_cmd_worker)

    topics = sub.add_parser("topics", help="manage the Kafka topics",
                            description="Kafka topic administration (kafka-python).")
    t_sub = topics.add_subparsers(dest="topics_command", required=True, metavar="COMMAND")
    create = t_sub.add_parser(
        "create", help="create the source, dead-letter, panes and changelog topics "
                       "(idempotent)",
        description="Create the decisions, appeals and reports topics, the dead-letter topic, "
                    "the internal panes topic and the worker's two table changelogs "
                    "(<app-id>-ingest-state-changelog, <app-id>-merge-state-changelog; "
                    "compacted) with the configured partitions and retention. Existing "
                    "topics are kept (retention updated); a partition count that differs "
                    "from the config is an error.")
    add_kafka_args(create)
    create.add_argument("--app-id", help="the workers' Faust app id, which names the "
                                         "changelogs (default harmwatch)")
    create.add_argument("--partitions", type=int, help="partitions of the source topics")
    create.set_defaults(func=_cmd_topics_create)

    prod = sub.add_parser(
        "produce", help="send a JSON Lines file of events to the source topics",
        description="Send each line to the topic of its type, keyed by event_id. Lines that "
                    "are not valid events go unchanged to --invalid-to (default: the "
                    "decisions topic), where the worker dead-letters them.")
    add_kafka_args(prod)
    add_config_arg(prod)
    prod.add_argument("--events", type=Path, required=True, metavar="FILE.jsonl")
    prod.add_argument("--rate", type=positive, metavar="N",
                      help="messages per second (default: as fast as possible)")
    prod.add_argument("--invalid-to", metavar="TOPIC",
                      help="topic for invalid lines (default: the decisions topic)")
    prod.add_argument("--final-watermark", action="store_true",
                      help="end with a watermark on every source partition so workers close "
                           "every pane up to the newest event's, as a backtest does")
    prod.set_defaults(func=_cmd_produce)
