"""The source side of a worker: source partitions in, pane messages and dead letters out.

Each source partition (``decisions:3``) has a :class:`signals.merge.SourcePartition`. A
batch of its records is fed in offset order; invalid messages are dead-lettered; watermark
control messages (header ``harmwatch-watermark``) advance it. After a batch the closed
panes are published on the panes topic (partition :func:`signals.merge.pane_partition` of
the area) and *delivered*; a snapshot says what was announced only after that.

Counts reach ``/metrics`` only for offsets a written snapshot covers, and the snapshot
carries them (:mod:`streams.kafka.exact_counts`), so nothing is counted twice across a
SIGKILL or a takeover; a worker whose loop stalled past the session timeout writes no
snapshot for a while (:mod:`streams.kafka.stall_fence`).

Future dates are judged against each record's Kafka timestamp (:meth:`SourcePartition.feed_sent`),
not this worker's clock, so a re-read after a crash or by a new owner decides the same.

A caught-up partition quiet for ``idle_after_s`` gets a watermark record written into its
own log (the group's watermark, see docs/streaming.md "Idle partitions"): reading it back
closes its open panes, so the merge never waits for it and never skips it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from signals.admission import MAX_FUTURE_S
from signals.config import Config
from signals.merge import (
    WATERMARK_HEADER,
    SourcePartition,
    encode,
    pane_partition,
    source_id,
    watermark_headers,
)
from signals.tags import TagSpec
from streams.kafka import export_trace
from streams.kafka.dead_letters import DeadLetters
from streams.kafka.exact_counts import PartitionCounts
from streams.kafka.faust_topics import WorkerTopics
from streams.kafka.settings import HEARTBEAT_S, INGEST_TABLE, SESSION_TIMEOUT_S, KafkaSettings
from streams.kafka.snapshots import Refusals, load_state, save_state
from streams.kafka.stall_fence import StallFence
from streams.kafka.worker_metrics import Counters

log = logging.getLogger("harmwatch.worker")


class SourceConsumer(Protocol):
    """Where the source partitions are read: what the idle check and the lag metric ask."""

    def assignment(self) -> Iterable[TP]: ...

    def highwater(self, tp: TP) -> int | None: ...


def _header(headers: Any, name: str) -> bytes | None:
    if not headers:
        return None
    items = headers.items() if isinstance(headers, dict) else headers
    for key, value in items:
        if key == name:
            return bytes(value) if value is not None else b""
    return None


def sent_at(msg: Any) -> float:
    """A record's Kafka timestamp in seconds: aiokafka gives milliseconds, a Faust message
    (the benchmark's agent baselines) seconds."""
    ts = msg.timestamp
    return ts / 1000.0 if isinstance(msg, ConsumerRecord) else float(ts)


GroupWatermark = Callable[[str], float | None]


class IngestSide:
    """The source partitions, as a :class:`streams.kafka.reader.Owner`."""

    name = "source"

    def __init__(self, app: faust.App, config: Config, settings: KafkaSettings,
                 topics: WorkerTopics, counters: Counters,
                 threats: TagSpec | None = None) -> None:
        self.app = app
        self.threats = threats  # what the sources count for the emergent-threat detectors
        self.config = config
        self.settings = settings
        self.declared = topics
        self.counters = counters
        self.stream_of = {t: s for s, t in settings.source_topics.items()}
        self.parts: dict[TP, SourcePartition] = {}
        self.counts: dict[TP, PartitionCounts] = {}
        # Set when the process is told to stop: its last snapshots hand counts on.
        self.handing_over = False
        self.fence = StallFence(SESSION_TIMEOUT_S, HEARTBEAT_S)
        self.last_message: dict[TP, float] = {}
        self.dead_letters = DeadLetters(topics.dead_letter)
        self.refusals = Refusals(INGEST_TABLE, counters.snapshots_refused)
        self.snapshot_limit = settings.snapshot_max_bytes
        # The group's watermark for a quiet source (the runtime's, from its area merges).
        self.group_of: GroupWatermark | None = None
        # Partitions whose frontier last moved by a watermark record, not by events.
        self.marked: set[TP] = set()
        # Batches, snapshots and the idle check take turns.
        self.lock = asyncio.Lock()
        self.consumer: SourceConsumer | None = None  # set when a reader is attached

    # --- state ----------------------------------------------------------------------------

    def part(self, tp: TP) -> SourcePartition:
        part = self.parts.get(tp)
        if part is None:
            src = source_id(tp.topic, tp.partition)
            # Events dated over 10 minutes ahead of this worker's clock are dead-lettered.
            part = SourcePartition(self.config, src, self.config.areas,
                                   max_future_s=MAX_FUTURE_S, threats=self.threats)
            saved = load_state(self.declared.ingest_table, src)
            self.counts[tp] = PartitionCounts.from_state(
                saved.pop("counts", None) if saved is not None else None)
            if saved is not None:
                part.restore(saved)
            export_trace.note("restore", src, part.next_offset, self.counts[tp])
            log.info("source %s: %s, next offset %d", src, "restored" if saved else "new",
                     part.next_offset)
            self.parts[tp] = part
        return part

    async def checkpoint(self, parts: dict[TP, SourcePartition], with_ids: bool,
                         final: bool = False) -> list[TP]:
        """Announce, then snapshot: a snapshot must never say more was announced, or
        dead-lettered, than Kafka has. Then, once Kafka has the snapshots, export the
        counts they cover; ``final`` (handing the partitions on): leave that to the next
        owner, who is alive to be scraped. Returns the partitions not snapshotted (the
        stall fence), to try again."""
        if self.fence.blocked():
            return list(parts)
        await self.publish(parts.values())
        await self.dead_letters.delivered()
        # Asked again after the waits: a process stopped during them (they can take a few
        # hundred ms under load) may have been replaced, and a snapshot it sent now would
        # be counted with the offsets its successor reads again.
        if self.fence.blocked():
            return list(parts)
        export = not (final or self.handing_over)
        sent: list[Any] = []
        written = []
        for tp, part in parts.items():
            counts = self.counts_of(tp)
            state = part.to_state(with_ids=with_ids)
            state["counts"] = counts.to_state(export)
            # A refused snapshot exports too: counters that stop while a partition's state
            # is over the bound would read as "no events"; the cost is that a crash before
            # one fits again counts the refused stretch twice (the re-read).
            self.refusals.note(part.source, save_state(
                self.declared.ingest_table, part.source, tp.partition, state,
                self.snapshot_limit, sent))
            written.append(counts)
        if sent:
            await asyncio.gather(*sent)
        if export and self.fence.blocked():
            # Stopped while the records were on their way (the producer's linger, the
            # broker's ack). Whether the group replaced this worker meanwhile, and whether
            # its successor restored these snapshots or the ones before, is not knowable
            # here: exporting loses nothing, at the risk of a stretch counted twice. Only
            # broker-side fencing (transactions) would close this; say that it happened.
            self.counters.stalled_writes += len(written)
            log.warning("event loop stalled while %d source snapshot(s) were written: their "
                        "counts may also be exported by a new owner", len(written))
        if export:
            for part, counts in zip(parts.values(), written, strict=True):
                export_trace.note("export", part.source, part.next_offset, counts)
                counts.export(self.counters.events, self.counters.invalid)
        return []

    def counts_of(self, tp: TP) -> PartitionCounts:
        counts = self.counts.get(tp)
        if counts is None:
            counts = self.counts[tp] = PartitionCounts()
        return counts

    def needs_snapshot(self, tps: Iterable[TP]) -> list[TP]:
        """Taken-over partitions whose snapshot holds counts nobody exported yet (a
        graceful handover): snapshot them soon even if no message comes."""
        return [tp for tp in tps if tp in self.counts and self.counts[tp].unexported]

    def forget(self, revoked: Iterable[TP]) -> None:
        """Partitions moved away: drop their in-memory state (the table has it)."""
        for tp in revoked:
            self.parts.pop(tp, None)
            self.counts.pop(tp, None)  # not exported: the next owner does, from the table
            self.last_message.pop(tp, None)
            self.marked.discard(tp)

    # --- ingest ---------------------------------------------------------------------------

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
                before = part.ingest.closed_until
                if part.advance(msg.offset, float(mark)) and part.ingest.closed_until > before:
                    self.marked.add(tp)
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
        part.rebuild_ids((m.offset, m.value or b"", sent_at(m)) for m in messages[:cut])
        if cut < len(messages):
            part.end_replay()
            log.info("source %s: dedupe ids rebuilt from the log (%d remembered)",
                     part.source, part.ingest.remembered_ids)
        return messages[cut:]

    async def _feed(self, tp: TP, part: SourcePartition, run: list[Any]) -> None:
        if not run:
            return
        self.marked.discard(tp)
        counts = self.counts_of(tp)
        rejected = part.feed_sent(((m.offset, m.value or b"", sent_at(m)) for m in run),
                                  counts.events)
        if not rejected:
            return
        stream = self.stream_of.get(tp.topic, "unknown")
        invalid = counts.invalid
        by_offset = {m.offset: m for m in run}
        for offset, result in rejected:
            key = (stream, result.reason)
            invalid[key] = invalid.get(key, 0) + 1
            await self.dead_letters.send(tp, by_offset[offset], result)

    async def publish(self, parts: Iterable[SourcePartition], idle: bool = False) -> None:
        """Publish pane messages and wait until Kafka has them: only then may a snapshot
        say they were announced."""
        futures = []
        n = self.settings.n_pane_partitions
        for part in parts:
            messages = part.idle_messages() if idle else part.take_messages(
                force=part.idle_announced)
            for area, pm in messages:
                fut = await self.declared.panes.send(key=area.encode(), value=encode(pm),
                                                    force=True,
                                                    partition=pane_partition(area, n))
                futures.append(fut)
        if futures:
            await asyncio.gather(*futures)

    # --- quiet partitions -----------------------------------------------------------------

    async def idle_check(self) -> None:
        """Declare caught-up, quiet source partitions idle (and repeat it while they are)."""
        after = self.settings.idle_after_s
        if not after or self.consumer is None:
            return
        recovery = getattr(self.app.tables, "recovery", None)
        if self.app.rebalancing or (recovery is not None and recovery.in_recovery):
            # A newly assigned partition's snapshot may still be on its way from the
            # changelog; loading it now would start that partition from empty state.
            return
        async with self.lock:
            await self._idle_check(self.consumer, after)

    async def _idle_check(self, consumer: SourceConsumer, after: float) -> None:
        now = time.monotonic()
        quiet = []
        marks: list[tuple[TP, float]] = []
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
            group = self.group_of(part.source) if self.group_of is not None else None
            mark = part.idle_watermark(group)
            if mark is not None:
                marks.append((tp, mark))
        if quiet:
            await self.publish(quiet, idle=True)
        if marks:
            await self.write_watermarks(marks)

    async def write_watermarks(self, marks: Sequence[tuple[TP, float]]) -> None:
        """A watermark record into each quiet partition's own log (as ``produce
        --final-watermark`` writes them); it takes effect when read back, at its offset."""
        producer = self.app.producer
        futures = [await producer.send(tp.topic, None, b"", tp.partition, None,
                                       watermark_headers(mark)) for tp, mark in marks]
        await asyncio.gather(*futures)
        for tp, mark in marks:
            log.info("source %s:%d quiet and caught up: watermark record %.0f written",
                     tp.topic, tp.partition, mark)

    def lags(self) -> Iterator[tuple[str, int, int]]:
        """(topic, partition, messages not yet processed) per assigned source partition."""
        consumer = self.consumer
        if consumer is None:
            return
        for tp in sorted(consumer.assignment()):
            if tp.topic not in self.stream_of:
                continue
            high = consumer.highwater(tp)
            if high is None:
                continue
            part = self.parts.get(tp)
            yield tp.topic, tp.partition, max(0, high - (part.next_offset if part else 0))

    # --- Owner (streams.kafka.reader) -----------------------------------------------------

    def topics(self) -> list[str]:
        return list(self.settings.source_topics.values())

    def take_over(self, tps: Sequence[TP]) -> dict[TP, int]:
        return {tp: self.part(tp).replay_from() for tp in tps}

    def covered(self, tp: TP) -> int:
        return self.part(tp).next_offset

    async def process(self, tp: TP, records: Sequence[Any]) -> None:
        await self.ingest_records(tp, records)

    async def after_batch(self, tps: Sequence[TP]) -> None:
        await self.publish(self.parts[tp] for tp in tps)

    async def snapshot(self, tps: Sequence[TP], final: bool = False) -> list[TP]:
        return await self.checkpoint({tp: self.parts[tp] for tp in tps if tp in self.parts},
                                     with_ids=False, final=final)

    def release(self, tps: Sequence[TP]) -> None:
        self.forget(tps)
