"""Batch consumption beside Faust rather than through it: the source topics and the panes
topic are read with aiokafka's ``getmany``, and each table snapshot *is* the position.

Why not Faust agents:

- Speed. Faust hands an agent one message at a time and its consumer loop awaits a
  ``wait_first`` (two asyncio tasks) per message: a worker measured 3–6k events/s that way,
  with harmwatch's own code at 4 % of the time. ``getmany`` returns thousands of records per
  call, and each partition's records go to the engine in one go.
- Exactness across rebalances. With the merge as a Faust agent, a SIGKILL test lost the
  pane messages of half the source partitions after a takeover (windows came out with
  about half their counts): the new owner resumed the panes partition from Faust's
  committed offset, not from where the restored snapshot ended. Faust's issue tracker has
  several such reports (faust-streaming/faust#216, #221, #312). Here nothing is committed
  to Kafka's offset store; a restored snapshot says where to read from.

Faust still does what it is good at: group membership and assignment, the changelog-backed
tables and their recovery, the producer, the web server and the timers.

Ownership follows the tables: a worker reads partition N of a topic exactly when Faust made
it the active owner of partition N of the table that holds that topic's state
(``ingest-state`` for the sources, ``merge-state`` for the panes topic). So:

- on a revoke (Faust's rebalances are eager: every partition is revoked first) the batch in
  progress finishes, the state of every owned partition is snapshotted, the producer is
  flushed, and the consumer is unassigned — before the group can hand the partitions on;
- when Faust has recovered the tables after a rebalance, each owned partition's state is
  restored and the consumer seeks to where its snapshot ends (after a SIGKILL, the messages
  after the last snapshot are simply read again, which the state's offsets make harmless).

Snapshots are taken every ``snapshot_every_s`` of the partitions that changed, not per batch.

Log truncation is detected, not only survived. aiokafka moves an out-of-range position to
the earliest offset with an info line; then either messages were deleted before they were
read (retention shorter than an outage, ``delete_records``), or the log restarted below
what the snapshot covers (a re-created topic, a broker that lost its tail) and its messages
are skipped as already counted. Both are checked at take-over (the partition's earliest
and end offsets against the snapshot) and while reading (a jump in the offsets), logged as
a warning and counted per partition in :attr:`DirectReader.truncated`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faust.types import TP

log = logging.getLogger("harmwatch.worker")


class Owner(Protocol):
    """The state a :class:`DirectReader` feeds (the ingest or the merge side of a Runtime)."""

    name: str
    lock: asyncio.Lock

    def topics(self) -> list[str]: ...

    def take_over(self, tps: Sequence[TP]) -> dict[TP, int]:
        """Restore the state of these partitions; the offset to read each from."""

    def covered(self, tp: TP) -> int:
        """The first offset of ``tp`` that the restored state has not processed (messages
        below it are skipped); at or after the offset ``take_over`` returned."""

    async def process(self, tp: TP, records: Sequence[Any]) -> None: ...

    async def after_batch(self, tps: Sequence[TP]) -> None: ...

    async def snapshot(self, tps: Sequence[TP], final: bool = False) -> Sequence[TP]:
        """``final``: the partitions are being handed on (a revoke). Returns those not
        snapshotted now, to try again at the next turn."""

    def needs_snapshot(self, tps: Sequence[TP]) -> list[TP]:
        """Of partitions just taken over, those to snapshot even if no message comes."""

    def release(self, tps: Sequence[TP]) -> None: ...


class DirectReader:
    """One consumer (an ``app.task``) for the topics of one :class:`Owner`."""

    def __init__(self, owner: Owner, broker: str, client_id: str, producer: Any,
                 snapshot_every_s: float = 0.5, max_records: int = 20_000) -> None:
        self.owner = owner
        self.broker = broker
        self.client_id = client_id
        self.producer = producer
        self.snapshot_every_s = snapshot_every_s
        self.max_records = max_records
        self.consumer: AIOKafkaConsumer | None = None
        self.owned: list[TP] = []
        self._want: list[TP] | None = None
        self._wake = asyncio.Event()
        self._dirty: set[TP] = set()
        self._last_snapshot = time.monotonic()
        self._next: dict[TP, int] = {}  # the offset each owned partition should read next
        # Records below this offset were skipped as covered although the log was new.
        self._covered_floor: dict[TP, int] = {}
        self.truncated: dict[TP, int] = {}  # messages lost to truncation, since start

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
        async with self.owner.lock:
            if self.owned:
                await self.owner.snapshot(self.owned, final=True)
                await self.producer.flush()
                log.info("%s partitions released: %d", self.owner.name, len(self.owned))
                self.owner.release(self.owned)
            self.owned = []
            self._dirty = set()
            if self.consumer is not None:
                self.consumer.assign([])

    def on_assigned(self, partitions: set[int]) -> None:
        """Faust finished recovering the tables: take these partition numbers over."""
        self._want = sorted(TP(t, p) for t in self.owner.topics() for p in partitions)
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.broker,
            group_id=None,  # no group: Faust's assignment decides, the tables hold offsets
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
            fetch_max_wait_ms=50,
            client_id=self.client_id,
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
                    log.warning("%s fetch failed, retrying: %r", self.owner.name, exc)
                    await asyncio.sleep(1.0)
                    continue
                async with self.owner.lock:
                    await self._process(batches)
        finally:
            await self.consumer.stop()

    async def _take_over(self) -> None:
        async with self.owner.lock:
            want, self._want = self._want, None
            if want is None or self.consumer is None:
                return
            self.owner.release(self.owned)
            starts = self.owner.take_over(want)
            ktps = {TopicPartition(tp.topic, tp.partition): offset
                    for tp, offset in starts.items()}
            self.consumer.assign(list(ktps))
            for ktp, offset in ktps.items():
                self.consumer.seek(ktp, offset)
            self.owned = want
            self._dirty = set(self.owner.needs_snapshot(want))
            self._next = dict(starts)
            self._covered_floor = {}
            await self._check_log_bounds(ktps)
            log.info("%s partitions taken over: %s", self.owner.name,
                     ", ".join(f"{tp.topic}:{tp.partition}@{starts[tp]}" for tp in want))

    async def _process(self, batches: Mapping[Any, list[Any]]) -> None:
        owned = set(self.owned)
        touched: list[TP] = []
        for ktp, records in batches.items():
            tp = TP(ktp.topic, ktp.partition)
            if tp not in owned or not records:
                continue  # fetched just before a revoke
            await self._check_offsets(ktp, tp, records)
            await self.owner.process(tp, records)
            touched.append(tp)
        if touched:
            await self.owner.after_batch(touched)
            self._dirty.update(touched)
        if self._dirty and time.monotonic() - self._last_snapshot >= self.snapshot_every_s:
            self._dirty = set(await self.owner.snapshot(sorted(self._dirty)))
            self._last_snapshot = time.monotonic()

    # --- truncation ------------------------------------------------------------------------

    async def _check_log_bounds(self, starts: Mapping[Any, int]) -> None:
        """At take-over: is the log still there from where each snapshot resumes?"""
        if self.consumer is None or not starts:
            return
        try:
            earliest = await self.consumer.beginning_offsets(list(starts))
            ends = await self.consumer.end_offsets(list(starts))
        except KafkaError as exc:  # checked again by the first jump in the offsets
            log.warning("%s: log bounds not checked: %r", self.owner.name, exc)
            return
        for ktp, start in starts.items():
            tp = TP(ktp.topic, ktp.partition)
            first, end = int(earliest[ktp]), int(ends[ktp])
            covered = self.owner.covered(tp)
            if end < covered:
                self._log_restarted(tp, end, covered)
                self._next[tp] = first
            elif first > start:
                self._deleted_unread(tp, start, first)
                self._next[tp] = first

    async def _check_offsets(self, ktp: Any, tp: TP, records: Sequence[Any]) -> None:
        """While reading: a jump ahead may be deleted messages (or only transaction
        markers: the earliest offset tells); a jump back is a log restarted below us."""
        expected = self._next.get(tp)
        first = int(records[0].offset)
        if expected is not None and first > expected and self.consumer is not None:
            try:
                earliest = int((await self.consumer.beginning_offsets([ktp]))[ktp])
            except KafkaError as exc:
                log.warning("%s %s:%d: offsets jump from %d to %d, earliest offset not "
                            "known: %r", self.owner.name, tp.topic, tp.partition, expected,
                            first, exc)
                earliest = expected
            if earliest > expected:
                self._deleted_unread(tp, expected, min(first, earliest))
        elif expected is not None and first < expected and tp not in self._covered_floor:
            self._log_restarted(tp, None, self.owner.covered(tp))
        floor = self._covered_floor.get(tp)
        if floor is not None:
            below = sum(1 for r in records if r.offset < floor)
            if below:
                self.truncated[tp] = self.truncated.get(tp, 0) + below
            if records[-1].offset + 1 >= floor:
                del self._covered_floor[tp]
        self._next[tp] = max(int(records[-1].offset) + 1, self._next.get(tp, 0))

    def _deleted_unread(self, tp: TP, expected: int, earliest: int) -> None:
        covered = self.owner.covered(tp)
        lost = max(0, earliest - max(expected, covered))
        if lost:
            self.truncated[tp] = self.truncated.get(tp, 0) + lost
            log.warning("%s %s:%d: log truncated: it starts at offset %d, reading was to "
                        "resume at %d; %d messages were deleted before they were read and "
                        "are lost", self.owner.name, tp.topic, tp.partition, earliest,
                        max(expected, covered), lost)
        else:  # only messages read before: the dedupe ids of a restored partition
            log.warning("%s %s:%d: log truncated at offset %d (below %d, already "
                        "processed): ids of offsets %d-%d cannot be re-read, so copies of "
                        "those events may count again", self.owner.name, tp.topic,
                        tp.partition, earliest, covered, expected, earliest - 1)

    def _log_restarted(self, tp: TP, end: int | None, covered: int) -> None:
        self._covered_floor[tp] = covered
        self._next[tp] = 0
        where = f"ends at offset {end}" if end is not None else "restarted below the position"
        log.warning("%s %s:%d: log truncated: it %s, below %d that the state covers (a "
                    "re-created topic or a lost tail); its messages below %d are skipped "
                    "as already processed and are lost", self.owner.name, tp.topic,
                    tp.partition, where, covered, covered)
