"""A worker whose source topics are read by a Faust agent: the baselines that
``benchmarks/streaming_throughput.py`` compares the shipped readers with.

    .venv/bin/python benchmarks/faust_agent_worker.py --ingest agent|per-event [worker flags]

Everything but the source reader is the shipped worker (``streams.kafka.app.build_app``):
the panes side, the tables, /metrics. The two baselines:

- ``agent``: ``stream.take_events(batch_max, within=batch_within_s)`` batches;
- ``per-event``: a plain ``async for`` over the stream, one table write per event.

Faust commits the offsets here (after the batch's snapshot is queued and the producer
flushed), so every snapshot carries the dedupe ids: a restart resumes where Faust says, not
where the snapshot ends. Broker, topic prefix and app id come from the ``HARMWATCH_*``
environment as for ``harmwatch worker``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust
from faust.types import TP, EventT

from signals.config import Config
from streams.config_files import load_config
from streams.kafka.app import build_app, guard
from streams.kafka.options import WorkerOptions
from streams.kafka.runtime import Runtime
from streams.kafka.settings import KafkaSettings, load_kafka_settings
from streams.kafka.worker import run_worker
from streams.ports import DEFAULT_WORKER_PORT

MODES = ("agent", "per-event")


async def ingest_batch(runtime: Runtime, events: Iterable[EventT[Any]]) -> None:
    """Faust delivered these; snapshot every partition they touched, ids included."""
    by_tp: dict[TP, list[Any]] = {}
    for event in events:
        msg = event.message
        by_tp.setdefault(msg.tp, []).append(msg)
    ingest = runtime.ingest
    async with ingest.lock:
        touched = {tp: await ingest.ingest_records(tp, msgs) for tp, msgs in by_tp.items()}
        await ingest.checkpoint(touched, with_ids=True)


def agent_app(mode: str) -> Any:
    def make(config: Config, settings: KafkaSettings,
             opts: WorkerOptions) -> tuple[faust.App, Runtime]:
        app, runtime = build_app(config, settings, opts)
        # The idle check and the lag metric ask Faust's consumer, which reads the sources.
        runtime.ingest.consumer = app.consumer
        source = runtime.topics.sources
        if mode == "per-event":
            @app.agent(source, name="ingest")
            async def ingest_per_event(stream: Any) -> None:
                async for event in stream.events():
                    await ingest_batch(runtime, [event])
        else:
            @app.agent(source, name="ingest")
            async def ingest_agent(stream: Any) -> None:
                async for events in stream.take_events(settings.batch_max,
                                                       within=settings.batch_within_s):
                    await guard(lambda evs: ingest_batch(runtime, evs), events)
        return app, runtime

    return make


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A harmwatch worker with a Faust-agent ingest "
                                            "(benchmark baseline, not for production).")
    p.add_argument("--ingest", choices=MODES, required=True)
    p.add_argument("--web-port", type=int, default=DEFAULT_WORKER_PORT)
    p.add_argument("--signals-out", type=Path)
    p.add_argument("--episodes-out", type=Path)
    p.add_argument("--loglevel", default="warning")
    args = p.parse_args(argv)
    opts = WorkerOptions(web_port=args.web_port, signals_out=args.signals_out,
                         episodes_out=args.episodes_out, loglevel=args.loglevel.upper())
    return run_worker(load_config(), load_kafka_settings(), opts,
                      make_app=agent_app(args.ingest))


if __name__ == "__main__":
    sys.exit(main())
