"""Batch consumption of the source topics, beside Faust rather than through it.

Faust hands an agent one message at a time, and its consumer loop awaits a
``wait_first`` (two asyncio tasks) per message: a worker measured 3–5k events/s that way,
with harmwatch's own code at 4 % of the time. This service reads the source topics with
aiokafka's ``getmany`` (thousands of records per call) and feeds each partition's records
to the engine in one go. Faust still does what it is good at: group membership and
assignment, the changelog-backed ``ingest-state`` table, the panes topic, the merge agent,
the web server.

Ownership follows the table: this worker reads source partition N of every source topic
exactly when Faust made it the active owner of ``ingest-state`` partition N. Nothing is
committed to Kafka's offset store: the snapshot in the table *is* the position. So:

- on a revoke (Faust's rebalances are eager: every partition is revoked first) the
  current batch finishes, every owned partition is snapshotted, the producer is flushed,
  and the consumer is unassigned — before the group can hand the partitions on;
- when Faust has recovered the tables after a rebalance, each owned partition is restored
  from its snapshot and the consumer seeks to where the snapshot ends (after a SIGKILL,
  the messages after the last snapshot are simply read again);
- snapshots leave out the dedupe ids (at 50k events/s they would not fit a Kafka record);
  a restored partition re-reads its log from where its older id generation began and
  remembers those ids again before counting anything new.

Snapshots are taken every ``snapshot_every_s`` (after the pane messages they announce
are delivered), not per batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.types import TP

if TYPE_CHECKING:
    from streams.faust_app import Runtime
    from streams.merge import SourcePartition

log = logging.getLogger("harmwatch.worker")


class DirectIngest:
    """The source-topic consumer of one worker (an ``app.task``)."""

    def __init__(self, runtime: Runtime, snapshot_every_s: float = 1.0,
                 max_records: int = 20_000) -> None:
        self.runtime = runtime
        self.snapshot_every_s = snapshot_every_s
        self.max_records = max_records
        self.consumer: AIOKafkaConsumer | None = None
        self.owned: list[TP] = []
        self._want: list[TP] | None = None
        self._wake = asyncio.Event()
        self._dirty: dict[TP, SourcePartition] = {}
        self._last_snapshot = time.monotonic()

    # --- what the metrics and the idle check read ------------------------------------------

    def assignment(self) -> list[TP]:
        return list(self.owned)

    def highwater(self, tp: TP) -> int | None:
        if self.consumer is None or tp not in self.owned:
            return None
        high: int | None = self.consumer.highwater(TopicPartition(tp.topic, tp.partition))
        return high

    # --- rebalance hooks (Faust signals) -------------------------------------------------

    async def on_revoked(self) -> None:
        """Snapshot and let go of everything; the new assignment comes after recovery."""
        self._want = None
        async with self.runtime.ingest_lock:
            if self.owned:
                await self._snapshot(list(self.runtime.parts))
                await self.runtime.app.producer.flush()
                log.info("source partitions released: %d", len(self.owned))
            self.runtime.forget(self.owned)
            self.owned = []
            if self.consumer is not None:
                self.consumer.assign([])

    def on_assigned(self, partitions: set[int]) -> None:
        """Faust finished recovering the tables: take these partition numbers over."""
        topics = self.runtime.settings.source_topics.values()
        self._want = sorted(TP(t, p) for t in topics for p in partitions)
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        settings = self.runtime.settings
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.broker,
            group_id=None,  # no group: Faust's assignment decides, the table holds offsets
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
            fetch_max_wait_ms=50,
            client_id=f"{settings.app_id}-ingest",
        )
        await self.consumer.start()
        try:
            while True:
                if self._want is not None:
                    await self._take_over()
                if not self.owned:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                    except TimeoutError:
                        pass
                    continue
                try:
                    batches = await self.consumer.getmany(timeout_ms=200,
                                                          max_records=self.max_records)
                except KafkaError as exc:  # the broker is away: aiokafka reconnects
                    log.warning("source fetch failed, retrying: %r", exc)
                    await asyncio.sleep(1.0)
                    continue
                async with self.runtime.ingest_lock:
                    await self._process(batches)
        finally:
            await self.consumer.stop()

    async def _take_over(self) -> None:
        async with self.runtime.ingest_lock:
            want, self._want = self._want, None
            if want is None or self.consumer is None:
                return
            runtime = self.runtime
            runtime.forget(self.owned)
            starts: dict[TopicPartition, int] = {}
            for tp in want:
                part = runtime.part(tp)
                starts[TopicPartition(tp.topic, tp.partition)] = part.replay_from()
            self.consumer.assign(list(starts))
            for ktp, offset in starts.items():
                self.consumer.seek(ktp, offset)
            self.owned = want
            self._dirty = {}
            log.info("source partitions taken over: %s",
                     ", ".join(f"{tp.topic}:{tp.partition}@{starts[TopicPartition(*tp)]}"
                               for tp in want))

    async def _process(self, batches: dict[Any, list[Any]]) -> None:
        runtime = self.runtime
        owned = set(self.owned)
        touched: dict[TP, SourcePartition] = {}
        for ktp, records in batches.items():
            tp = TP(ktp.topic, ktp.partition)
            if tp not in owned or not records:
                continue  # fetched just before a revoke
            touched[tp] = await runtime.ingest_records(tp, records)
        if touched:
            await runtime.publish(touched.values())
            self._dirty.update(touched)
        if self._dirty and time.monotonic() - self._last_snapshot >= self.snapshot_every_s:
            await self._snapshot(list(self._dirty))

    async def _snapshot(self, tps: list[TP]) -> None:
        runtime = self.runtime
        parts = {tp: runtime.parts[tp] for tp in tps if tp in runtime.parts}
        await runtime.publish(parts.values())  # announce before saying it was announced
        runtime.save_parts(parts, with_ids=False)
        self._dirty = {}
        self._last_snapshot = time.monotonic()
