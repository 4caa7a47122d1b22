"""The Faust app: source topics -> per-partition ingest -> panes topic -> per-area merge.

Two readers (:mod:`streams.kafka.reader`), both thin (decode, call :mod:`signals.merge`,
record), each driven by the table whose partitions it owns:

- the **source** side reads the decisions, appeals and reports topics in ``getmany``
  batches. Each source partition has a :class:`signals.merge.SourcePartition`; invalid
  messages go to the dead-letter topic with their original bytes and the reason, source
  topic, partition and offset in headers. After a batch, closed panes are published on the
  panes topic (partition chosen by :func:`signals.merge.pane_partition` of the area) and
  *delivered*; every second the touched partitions are snapshotted to ``ingest-state``.
- the **panes** side reads the panes topic; each area has an :class:`AreaMerge`,
  snapshotted every second to ``merge-state``.

Table writes go straight to the store plus ``send_changelog(partition, ...)`` with the
partition the state belongs to. A snapshot stores the offsets it covers, and a restored
reader seeks there: Kafka's committed offsets are not used. ``--ingest agent|per-event``
replaces the source side with the Faust agents the benchmark compares against; there Faust
commits the offsets (after the batch's snapshot is queued and the producer flushed).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import faust
import msgspec
from faust.types import TP, EventT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.metrics import HarmwatchCollector, Snapshot, new_registry, snapshot_of
from signals.admission import MAX_FUTURE_S
from signals.config import Config
from signals.events import Rejected
from signals.ingest import Tally
from signals.merge import (
    WATERMARK_HEADER,
    AreaMerge,
    SourcePartition,
    decode,
    encode,
    pane_partition,
    source_id,
)
from signals.pipeline import Pipeline
from signals.records import Episode, SignalRow
from streams.kafka.reader import DirectReader
from streams.kafka.settings import (
    INGEST_TABLE,
    MAX_SNAPSHOT_BYTES,
    MERGE_TABLE,
    KafkaSettings,
)
from streams.ports import DEFAULT_WORKER_PORT

log = logging.getLogger("harmwatch.worker")
_encode = msgspec.json.Encoder().encode
_decode_state = msgspec.json.Decoder().decode
WARN_SNAPSHOT_BYTES = 4 * 1024 * 1024
_warned: set[str] = set()


@dataclass
class Counters:
    """Duck-typed as a :class:`signals.pipeline.Pipeline` for the collector."""

    events: Tally = field(default_factory=dict)
    invalid: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerOptions:
    web_port: int = DEFAULT_WORKER_PORT
    web_host: str = "127.0.0.1"
    signals_out: Path | None = None
    episodes_out: Path | None = None
    # "direct" (ships): batches read beside Faust (streams/kafka/reader.py). The Faust
    # agent baselines, for the benchmark: "agent" (take_events batches), "per-event".
    ingest: str = "direct"
    loglevel: str = "WARNING"


def _header(headers: Any, name: str) -> bytes | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == name:
            return bytes(value) if value is not None else b""
    return None


class Runtime:
    """The worker's in-memory state: what the readers (and the agent baselines) call. No
    Faust types leak into :mod:`signals.merge`."""

    def __init__(self, app: faust.App, config: Config, settings: KafkaSettings,
                 opts: WorkerOptions) -> None:
        self.app = app
        self.config = config
        self.settings = settings
        self.opts = opts
        self.stream_of = {t: s for s, t in settings.source_topics.items()}
        self.sources = settings.sources()
        self.areas = config.areas
        self.parts: dict[TP, SourcePartition] = {}
        self.merges: dict[str, tuple[AreaMerge, int]] = {}
        self.counters = Counters()
        self.last_message: dict[TP, float] = {}
        self.late_panes = 0
        self.collector = WorkerCollector(config, pipelines=[_as_pipeline(self.counters)],
                                         runtime=self)
        self.registry = new_registry(self.collector)
        # A reader's batches, its snapshots and (for the sources) the idle check take turns.
        self.ingest_lock = asyncio.Lock()
        self.merge_lock = asyncio.Lock()
        self.ingest_reader: DirectReader | None = None  # None: a Faust-agent baseline
        self.merge_reader: DirectReader | None = None
        self._signals: IO[bytes] | None = None
        if opts.signals_out is not None:
            self._signals = opts.signals_out.open("ab")

        self.source_topic = app.topic(*settings.source_topics.values(), key_type=bytes,
                                      value_type=bytes, key_serializer="raw",
                                      value_serializer="raw")
        self.panes_topic = app.topic(settings.panes_topic, key_type=bytes, value_type=bytes,
                                     key_serializer="raw", value_serializer="raw",
                                     partitions=settings.n_pane_partitions)
        self.dead_letter = app.topic(settings.dead_letter_topic, key_type=bytes,
                                     value_type=bytes, key_serializer="raw",
                                     value_serializer="raw")
        # bytes key and value types make Faust use the raw codec both ways.
        # `topics create` makes the changelogs too: the readers' ownership comes from their
        # assignment, and Faust's assignor skips a topic it cannot see yet.
        big = {"max.message.bytes": str(MAX_SNAPSHOT_BYTES)}
        counts = settings.table_partitions
        self.ingest_table = app.Table(INGEST_TABLE, default=None, key_type=bytes,
                                      value_type=bytes, partitions=counts[INGEST_TABLE],
                                      extra_topic_configs=big)
        self.merge_table = app.Table(MERGE_TABLE, default=None, key_type=bytes,
                                     value_type=bytes, partitions=counts[MERGE_TABLE],
                                     extra_topic_configs=big)

    # --- state load / save ---------------------------------------------------------------

    def part(self, tp: TP) -> SourcePartition:
        part = self.parts.get(tp)
        if part is None:
            src = source_id(tp.topic, tp.partition)
            # Events dated over 10 minutes ahead of this worker's clock are dead-lettered.
            part = SourcePartition(self.config, src, self.areas, max_future_s=MAX_FUTURE_S)
            saved = self.ingest_table.data.get(src.encode())
            if saved:
                part.restore(_decode_state(saved))
            log.info("source %s: %s, next offset %d", src, "restored" if saved else "new",
                     part.next_offset)
            self.parts[tp] = part
        return part

    def merge(self, area: str, partition: int) -> AreaMerge:
        have = self.merges.get(area)
        if have is None:
            merge = AreaMerge(self.config, area, self.sources)
            saved = self.merge_table.data.get(area.encode())
            if saved:
                merge.restore(_decode_state(saved))
            log.info("merge %s (panes partition %d): %s, next offset %d", area, partition,
                     "restored" if saved else "new", merge.next_offset)
            self.merges[area] = (merge, partition)
            return merge
        return have[0]

    @staticmethod
    def _save(table: Any, key: str, partition: int, state: dict[str, Any]) -> None:
        value = _encode(state)
        if len(value) > WARN_SNAPSHOT_BYTES and key not in _warned:
            _warned.add(key)
            log.warning("state of %s is %d bytes (limit %d): add partitions", key,
                        len(value), MAX_SNAPSHOT_BYTES)
        kb = key.encode()
        table.data[kb] = value
        table.send_changelog(partition, kb, value)

    def forget(self, revoked: Iterable[TP]) -> None:
        """Partitions moved away: drop their in-memory state (the table has it)."""
        revoked = set(revoked)
        for tp in revoked:
            self.parts.pop(tp, None)
            self.last_message.pop(tp, None)
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.panes_topic}
        for area in [a for a, (_, p) in self.merges.items() if p in gone]:
            del self.merges[area]

    # --- ingest (shared by the direct consumer and the agent baselines) -------------------

    async def ingest_records(self, tp: TP, messages: Sequence[Any]) -> SourcePartition:
        """One source partition's messages in offset order (anything with ``offset``,
        ``key``, ``value`` and ``headers``: an aiokafka record or a Faust message)."""
        part = self.part(tp)
        self.last_message[tp] = time.monotonic()
        if part.replaying:
            messages = self._rebuild(part, messages)
        run: list[Any] = []
        for msg in messages:
            headers = msg.headers
            mark = _header(headers, WATERMARK_HEADER) if headers else None
            if mark is None:
                run.append(msg)
                continue
            await self._feed(tp, part, run)
            run = []
            try:
                part.advance(msg.offset, float(mark))
            except ValueError:
                part.skip(msg.offset)
        await self._feed(tp, part, run)
        return part

    @staticmethod
    def _rebuild(part: SourcePartition, messages: Sequence[Any]) -> Sequence[Any]:
        """Feed the ids of already counted messages back to a restored partition; return
        the messages still to count."""
        end = part.next_offset
        cut = 0
        while cut < len(messages) and messages[cut].offset < end:
            cut += 1
        part.rebuild_ids((m.offset, m.value or b"") for m in messages[:cut])
        if cut < len(messages):
            part.end_replay()
            log.info("source %s: dedupe ids rebuilt from the log (%d remembered)",
                     part.source, part.ingest.remembered_ids)
        return messages[cut:]

    async def _feed(self, tp: TP, part: SourcePartition, run: list[Any]) -> None:
        if not run:
            return
        rejected = part.feed_batch(((m.offset, m.value or b"") for m in run),
                                   self.counters.events, time.time())
        if not rejected:
            return
        stream = self.stream_of.get(tp.topic, "unknown")
        invalid = self.counters.invalid
        by_offset = {m.offset: m for m in run}
        for offset, result in rejected:
            key = (stream, result.reason)
            invalid[key] = invalid.get(key, 0) + 1
            await self._dead_letter(tp, by_offset[offset], result)

    async def ingest_batch(self, events: Iterable[EventT[Any]]) -> None:
        """The Faust-agent baselines: Faust delivered these; snapshot every partition they
        touched (ids included, since Faust, not this state, decides where a restart
        resumes)."""
        by_tp: dict[TP, list[Any]] = {}
        for event in events:
            msg = event.message
            by_tp.setdefault(msg.tp, []).append(msg)
        touched = {tp: await self.ingest_records(tp, msgs) for tp, msgs in by_tp.items()}
        await self.publish(touched.values())
        self.save_parts(touched, with_ids=True)

    def save_parts(self, parts: dict[TP, SourcePartition], with_ids: bool) -> None:
        for tp, part in parts.items():
            self._save(self.ingest_table, part.source, tp.partition,
                       part.to_state(with_ids=with_ids))

    async def _dead_letter(self, tp: TP, msg: Any, rejected: Rejected) -> None:
        headers = [
            ("harmwatch-reason", rejected.reason.encode()),
            ("harmwatch-source-topic", tp.topic.encode()),
            ("harmwatch-source-partition", str(tp.partition).encode()),
            ("harmwatch-source-offset", str(msg.offset).encode()),
        ]
        if rejected.event_id:
            headers.append(("harmwatch-event-id", rejected.event_id.encode()[:128]))
        value = msg.value if isinstance(msg.value, bytes) else b""
        await self.dead_letter.send(key=msg.key, value=value, headers=headers, force=True)

    async def publish(self, parts: Iterable[SourcePartition],
                       idle: bool = False) -> None:
        """Publish pane messages and wait until Kafka has them: only then may a snapshot
        say they were announced."""
        futures = []
        for part in parts:
            messages = part.idle_messages() if idle else part.take_messages(
                force=part.idle_announced)
            for area, pm in messages:
                fut = await self.panes_topic.send(
                    key=area.encode(), value=encode(pm), force=True,
                    partition=pane_partition(area, self.settings.n_pane_partitions))
                futures.append(fut)
        if futures:
            await asyncio.gather(*futures)

    async def idle_check(self) -> None:
        """Declare caught-up, quiet source partitions idle (and repeat it while they are)."""
        after = self.settings.idle_after_s
        if not after:
            return
        recovery = getattr(self.app.tables, "recovery", None)
        if self.app.rebalancing or (recovery is not None and recovery.in_recovery):
            # A newly assigned partition's snapshot may still be on its way from the
            # changelog; loading it now would start that partition from empty state.
            return
        async with self.ingest_lock:
            await self._idle_check(after)

    def _source_consumer(self) -> Any:
        return self.ingest_reader if self.ingest_reader is not None else self.app.consumer

    async def _idle_check(self, after: float) -> None:
        now = time.monotonic()
        consumer = self._source_consumer()
        quiet = []
        for tp in list(consumer.assignment()):
            if tp.topic not in self.stream_of:
                continue
            last = self.last_message.setdefault(tp, now)
            if now - last < after:
                continue
            part = self.part(tp)
            high = consumer.highwater(tp)
            if high is not None and high > part.next_offset:
                continue  # not caught up: not idle, just slow
            self.last_message[tp] = now - after / 2  # repeat at half the idle time
            quiet.append(part)
        if quiet:
            await self.publish(quiet, idle=True)

    # --- merge -----------------------------------------------------------------------------

    def merge_records(self, partition: int, records: Sequence[Any]) -> set[str]:
        """Pane messages of one panes partition in offset order; the areas they touched."""
        touched: set[str] = set()
        for msg in records:
            key, value = msg.key, msg.value
            if not isinstance(key, bytes) or not isinstance(value, bytes):
                continue
            area = key.decode()
            try:
                pane_msg = decode(value)
            except msgspec.DecodeError:
                log.error("skipping an unreadable pane message at panes partition %d, "
                          "offset %d", partition, msg.offset)
                continue
            self.merge(area, partition).apply(msg.offset, pane_msg)
            touched.add(area)
        return touched

    def close_merged(self, areas: Iterable[str]) -> None:
        """Close what the merged frontiers allow; write rows, episodes and metrics."""
        rows: list[SignalRow] = []
        for area in areas:
            merge = self.merges[area][0]
            merge.advance()
            rows.extend(merge.evaluator.drain_rows())
            merge.evaluator.drain_transitions()
        if rows and self._signals is not None:
            self._signals.write(b"".join(_encode(r) + b"\n" for r in rows))
            self._signals.flush()
        self.late_panes = sum(m.late_panes for m, _ in self.merges.values())
        self.collector.snapshot = self.snapshot()
        if self.opts.episodes_out is not None:
            self._write_episodes(self.opts.episodes_out)

    def save_merges(self, partitions: set[int]) -> None:
        for area, (merge, partition) in self.merges.items():
            if partition in partitions:
                self._save(self.merge_table, area, partition, merge.to_state())

    def episodes(self) -> list[Episode]:
        out = [e for m, _ in self.merges.values() for e in m.evaluator.episodes]
        return sorted(out, key=lambda e: (e.started_at, e.policy_area, e.market or "",
                                          e.signal, e.severity))

    def _write_episodes(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(b"".join(_encode(e) + b"\n" for e in self.episodes()))
        os.replace(tmp, path)

    # --- metrics -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        marks = [p.ingest.watermark for p in self.parts.values()
                 if p.ingest.newest != float("-inf")]
        return snapshot_of((m.evaluator for m, _ in self.merges.values()),
                           min(marks) if marks else None,
                           sum(p.ingest.remembered_ids for p in self.parts.values()))

    def lags(self) -> Iterator[tuple[str, int, int]]:
        consumer = self._source_consumer()
        for tp in sorted(consumer.assignment()):
            if tp.topic not in self.stream_of:
                continue
            high = consumer.highwater(tp)
            if high is None:
                continue
            part = self.parts.get(tp)
            yield tp.topic, tp.partition, max(0, high - (part.next_offset if part else 0))


class IngestSide:
    """The source partitions as a :class:`streams.kafka.reader.Owner`."""

    name = "source"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = runtime.ingest_lock

    def topics(self) -> list[str]:
        return list(self.runtime.settings.source_topics.values())

    def take_over(self, tps: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.runtime.part(tp).replay_from() for tp in tps}

    async def process(self, tp: TP, records: Sequence[Any]) -> None:
        await self.runtime.ingest_records(tp, records)

    async def after_batch(self, tps: Sequence[TP]) -> None:
        await self.runtime.publish(self.runtime.parts[tp] for tp in tps)

    async def snapshot(self, tps: Sequence[TP]) -> None:
        runtime = self.runtime
        parts = {tp: runtime.parts[tp] for tp in tps if tp in runtime.parts}
        await runtime.publish(parts.values())  # announce before saying it was announced
        runtime.save_parts(parts, with_ids=False)

    def release(self, tps: Sequence[TP]) -> None:
        self.runtime.forget(tps)


class MergeSide:
    """The panes partitions (one :class:`AreaMerge` per policy area) as an Owner."""

    name = "panes"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = runtime.merge_lock
        self._touched: set[str] = set()

    def topics(self) -> list[str]:
        return [self.runtime.settings.panes_topic]

    def take_over(self, tps: Sequence[TP]) -> dict[TP, int]:
        runtime = self.runtime
        n = runtime.settings.n_pane_partitions
        starts = {}
        for tp in tps:
            merges = [runtime.merge(area, tp.partition) for area in runtime.areas
                      if pane_partition(area, n) == tp.partition]
            starts[tp] = min((m.next_offset for m in merges), default=0)
        return starts

    async def process(self, tp: TP, records: Sequence[Any]) -> None:
        self._touched |= self.runtime.merge_records(tp.partition, records)

    async def after_batch(self, tps: Sequence[TP]) -> None:
        touched, self._touched = self._touched, set()
        self.runtime.close_merged(touched)

    async def snapshot(self, tps: Sequence[TP]) -> None:
        self.runtime.save_merges({tp.partition for tp in tps})

    def release(self, tps: Sequence[TP]) -> None:
        self.runtime.forget(tps)


def _as_pipeline(counters: Counters) -> Pipeline:
    # The collector only reads ``.events`` and ``.invalid``; a full Pipeline would carry an
    # unused Engine.
    return cast(Pipeline, counters)


@dataclass(eq=False)  # registries key collectors by identity
class WorkerCollector(HarmwatchCollector):
    """The embedded collector plus consumer lag and merge lateness."""

    runtime: Runtime | None = None

    def collect(self) -> Iterator[Metric]:
        yield from super().collect()
        runtime = self.runtime
        if runtime is None:
            return
        lag = GaugeMetricFamily("harmwatch_consumer_lag",
                                "Messages in a source partition not yet processed",
                                labels=["topic", "partition"])
        try:
            for topic, partition, n in runtime.lags():
                lag.add_metric([topic, str(partition)], n)
        except Exception:  # no assignment yet, or the consumer is restarting
            pass
        yield lag
        yield CounterMetricFamily("harmwatch_merge_late_panes",
                                  "Partial panes that reached the merge after it had closed "
                                  "them (a partition resumed after being declared idle)",
                                  value=runtime.late_panes)


def create_app(config: Config, settings: KafkaSettings,
               opts: WorkerOptions | None = None) -> tuple[faust.App, Runtime]:
    opts = opts or WorkerOptions()
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
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_commit_interval=1.0,
        broker_max_poll_records=5000,
        stream_buffer_maxsize=20000,
        table_cleanup_interval=3600.0,
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=MAX_SNAPSHOT_BYTES + 64 * 1024,
    )
    runtime = Runtime(app, config, settings, opts)

    def reader(owner: IngestSide | MergeSide, table: Any) -> DirectReader:
        direct = DirectReader(owner, settings.broker, f"{settings.app_id}-{owner.name}",
                              app.producer)
        changelog = table.changelog_topic.get_topic_name()

        async def read() -> None:
            await _guard(lambda _: direct.run(), None)

        async def on_rebalance_complete(sender: Any, *args: Any, **kwargs: Any) -> None:
            direct.on_assigned({tp.partition for tp in app.assignor.assigned_actives()
                                if tp.topic == changelog})

        app.task(read)
        app.on_rebalance_complete.connect(cast(Any, on_rebalance_complete))
        return direct

    runtime.merge_reader = reader(MergeSide(runtime), runtime.merge_table)
    if opts.ingest == "direct":
        runtime.ingest_reader = reader(IngestSide(runtime), runtime.ingest_table)
    elif opts.ingest == "per-event":
        @app.agent(runtime.source_topic, name="ingest")
        async def ingest_per_event(stream: Any) -> None:
            # Benchmark baseline: one event per loop, one table write per event.
            async for event in stream.events():
                await runtime.ingest_batch([event])
    elif opts.ingest == "agent":
        @app.agent(runtime.source_topic, name="ingest")
        async def ingest_agent(stream: Any) -> None:
            async for events in stream.take_events(settings.batch_max,
                                                   within=settings.batch_within_s):
                await _guard(runtime.ingest_batch, events)
    else:
        raise ValueError(f"unknown ingest mode {opts.ingest!r}")

    @app.timer(interval=max(0.5, (settings.idle_after_s or 2) / 4))  # type: ignore[untyped-decorator]
    async def idle() -> None:
        try:
            await runtime.idle_check()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. no assignment while the broker is away: next tick
            log.warning("idle check skipped: %r", exc)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(runtime.registry),
                         headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/episodes")
    async def episodes(web: Any, request: Any) -> Any:
        return web.bytes(b"".join(_encode(e) + b"\n" for e in runtime.episodes()),
                         content_type="application/x-ndjson")

    async def on_revoked(sender: Any, *args: Any, signal: Any = None, **kwargs: Any) -> None:
        for direct in (runtime.ingest_reader, runtime.merge_reader):
            if direct is not None:
                await direct.on_revoked()
        runtime.forget(args[0] if args else kwargs.get("revoked", ()))

    app.on_partitions_revoked.connect(cast(Any, on_revoked))
    return app, runtime


async def _guard(fn: Callable[..., Any], arg: Any) -> None:
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
