"""The Faust app: source topics -> per-partition ingest -> panes topic -> per-area merge.

Two readers (:mod:`streams.kafka.reader`), both thin (decode, call :mod:`signals.merge`,
record), each driven by the table whose partitions it owns:

- the **source** side (:mod:`streams.kafka.ingest_side`) reads the decisions, appeals and
  reports topics in ``getmany`` batches, dead-letters invalid messages, publishes closed
  panes on the panes topic and snapshots its partitions to ``ingest-state``;
- the **panes** side (:mod:`streams.kafka.merge_side`) reads the panes topic, merges per
  area and snapshots to ``merge-state``.

A snapshot stores the offsets it covers, and a restored reader seeks there: Kafka's
committed offsets are not used. Faust does membership and assignment, the tables and their
recovery, the producer, the timers and the web server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import faust
import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from signals.config import Config
from streams.kafka import faust_fixes, heartbeats
from streams.kafka.ingest_side import IngestSide
from streams.kafka.merge_side import MergeSide
from streams.kafka.options import WorkerOptions
from streams.kafka.reader import DirectReader
from streams.kafka.runtime import Runtime
from streams.kafka.settings import (
    HEARTBEAT_S,
    MAX_SNAPSHOT_BYTES,
    SESSION_TIMEOUT_S,
    KafkaSettings,
)
from streams.kafka.snapshots import StateTable

log = logging.getLogger("harmwatch.worker")
RELOAD_EVERY_S = 1.0  # how often the thresholds file's mtime is checked, as harmwatch run
METRICS_WAIT_S = 2.0  # a scrape waits at most this long for a batch or snapshot in progress
_encode = msgspec.json.Encoder().encode

AppFactory = Callable[[Config, KafkaSettings, WorkerOptions], tuple[faust.App, Runtime]]


def create_app(config: Config, settings: KafkaSettings,
               opts: WorkerOptions | None = None) -> tuple[faust.App, Runtime]:
    """The worker as it ships: both sides read by :class:`DirectReader` s."""
    app, runtime = build_app(config, settings, opts)
    runtime.ingest.consumer = attach_reader(app, runtime, runtime.ingest,
                                            runtime.topics.ingest_table)
    return app, runtime


def build_app(config: Config, settings: KafkaSettings,
              opts: WorkerOptions | None = None) -> tuple[faust.App, Runtime]:
    """Everything but the reader of the source topics (which a benchmark replaces)."""
    opts = opts or WorkerOptions()
    faust_fixes.apply()
    heartbeats.apply()
    datadir = Path(tempfile.gettempdir()) / "harmwatch-faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.broker}",
        store="memory://",
        # Faust writes a small data dir even with the memory store; keep it out of the cwd.
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_allow_declare=True,
        web_enabled=True,
        web_bind=opts.web_host,
        web_host=opts.web_host,
        web_port=opts.web_port,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_S,
        broker_commit_interval=1.0,
        broker_max_poll_records=5000,
        stream_buffer_maxsize=20000,
        table_cleanup_interval=3600.0,
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=MAX_SNAPSHOT_BYTES + 64 * 1024,
    )
    runtime = Runtime(app, config, settings, opts)
    attach_reader(app, runtime, runtime.merge, runtime.topics.merge_table)

    # Faust declares app.timer without types for the decorated function.
    @app.timer(interval=max(0.5, (settings.idle_after_s or 2) / 4))  # type: ignore[untyped-decorator]
    async def idle() -> None:
        try:
            await runtime.ingest.idle_check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. no assignment while the broker is away: next tick
            log.warning("idle check skipped: %r", exc)

    @app.timer(interval=0.5)  # type: ignore[untyped-decorator]
    async def stall() -> None:
        runtime.ingest.fence.tick()

    @app.timer(interval=RELOAD_EVERY_S)  # type: ignore[untyped-decorator]
    async def reload() -> None:
        try:
            runtime.reload.poll()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the running config stays; try again next tick
            log.error("config reload failed, keeping the running config: %r", exc)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # A snapshot in flight exports its counts once Kafka has it: wait for it (a little),
        # so that a scrape taken just before the process dies does not miss them.
        lock = runtime.ingest.lock
        try:
            await asyncio.wait_for(lock.acquire(), timeout=METRICS_WAIT_S)
        except TimeoutError:  # a long batch, or the broker away: serve what there is
            return _exposition(web)
        try:
            return _exposition(web)
        finally:
            lock.release()

    def _exposition(web: Any) -> Any:
        return web.bytes(generate_latest(runtime.registry),
                         headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/episodes")
    async def episodes(web: Any, request: Any) -> Any:
        return web.bytes(b"".join(_encode(e) + b"\n" for e in runtime.episodes()),
                         content_type="application/x-ndjson")

    async def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        runtime.assignments.revoked(app.consumer_generation_id)
        # The source reader (attached last) first: it publishes and flushes the pane
        # messages of its final snapshot before the panes reader lets go.
        for direct in reversed(runtime.readers):
            await direct.on_revoked()
        runtime.forget(args[0] if args else kwargs.get("revoked", ()))

    app.on_partitions_revoked.connect(cast(Any, on_revoked))
    return app, runtime


def attach_reader(app: faust.App, runtime: Runtime, owner: IngestSide | MergeSide,
                  table: StateTable) -> DirectReader:
    """A :class:`DirectReader` for ``owner`` as an ``app.task``; it owns what Faust assigns
    this worker of ``table``."""
    settings = runtime.settings
    direct = DirectReader(owner, settings.broker, f"{settings.app_id}-{owner.name}",
                          app.producer, snapshot_every_s=settings.snapshot_every_s)
    changelog = cast(Any, table).changelog_topic.get_topic_name()

    async def read() -> None:
        await guard(lambda _: direct.run(), None)

    async def on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
        generation = app.consumer_generation_id
        if not runtime.assignments.current(generation):
            log.info("%s: recovery of generation %d completed after it was revoked: not "
                     "taken over", owner.name, generation)
            return
        direct.on_assigned({tp.partition for tp in app.assignor.assigned_actives()
                            if tp.topic == changelog})

    app.task(read)
    app.on_rebalance_complete.connect(cast(Any, on_rebalance_complete))
    runtime.readers.append(direct)
    return direct


async def guard(fn: Callable[[Any], Awaitable[Any]], arg: Any) -> None:
    """A bug in a batch must not be acked past: log one line and stop hard, so no offset is
    committed after the last snapshot and a restarted worker redoes the batch."""
    try:
        await fn(arg)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("harmwatch worker: batch failed, exiting so that it is redone: %r", exc)
        logging.shutdown()
        os._exit(70)
