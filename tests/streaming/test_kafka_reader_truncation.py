"""Log truncation seen by a reader while it reads (#9 item 9), without a broker.

The real-broker case (messages deleted before they were read, found at take-over) is in
tests/integration/test_streaming_worker.py; these are the jumps in the offsets of fetched
batches: back (the log restarted below the position: a re-created topic, a lost tail)
and ahead (deleted messages, or only transaction markers, which lose nothing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP

from streams.kafka.reader import DirectReader

TOPIC = "t.reports"


@dataclass
class Record:
    offset: int
    value: bytes = b"{}"
    key: bytes = b"k"
    headers: Any = None


class Owner:
    name = "source"

    def __init__(self, covered: int) -> None:
        self.lock = asyncio.Lock()
        self._covered = covered
        self.processed: list[int] = []

    def topics(self) -> list[str]:
        return [TOPIC]

    def take_over(self, tps: Any) -> dict[TP, int]:
        return {tp: self._covered for tp in tps}

    def covered(self, tp: TP) -> int:
        return self._covered

    async def process(self, tp: TP, records: Any) -> None:
        self.processed.extend(r.offset for r in records)

    async def after_batch(self, tps: Any) -> None:
        pass

    async def snapshot(self, tps: Any, final: bool = False) -> list[TP]:
        return []

    def needs_snapshot(self, tps: Any) -> list[TP]:
        return []

    def release(self, tps: Any) -> None:
        pass


class Consumer:
    def __init__(self, earliest: int) -> None:
        self.earliest = earliest

    async def beginning_offsets(self, ktps: list[Any]) -> dict[Any, int]:
        return {k: self.earliest for k in ktps}


def _reader(covered: int, earliest: int) -> tuple[DirectReader, Owner]:
    owner = Owner(covered)
    reader = DirectReader(owner, "127.0.0.1:1", "test", producer=None, snapshot_every_s=1e9)
    reader.consumer = Consumer(earliest)
    tp = TP(TOPIC, 2)
    reader.owned = [tp]
    reader._next = {tp: covered}
    return reader, owner


def _batch(offsets: range) -> dict[Any, list[Record]]:
    return {TopicPartition(TOPIC, 2): [Record(o) for o in offsets]}


def test_a_log_restarted_below_the_snapshot_counts_what_it_skips() -> None:
    async def run() -> None:
        reader, owner = _reader(covered=500, earliest=0)
        await reader._process(_batch(range(0, 300)))
        await reader._process(_batch(range(300, 520)))  # passes the covered offset
        await reader._process(_batch(range(520, 600)))
        assert reader.truncated == {TP(TOPIC, 2): 500}  # offsets 0-499 of the new log
        assert owner.processed == list(range(600))  # the owner still sees every record

    asyncio.run(run())


def test_messages_deleted_unread_are_counted_once() -> None:
    async def run() -> None:
        reader, _ = _reader(covered=100, earliest=140)
        await reader._process(_batch(range(140, 200)))
        await reader._process(_batch(range(200, 260)))
        assert reader.truncated == {TP(TOPIC, 2): 40}

    asyncio.run(run())


def test_a_gap_of_transaction_markers_loses_nothing() -> None:
    async def run() -> None:
        reader, _ = _reader(covered=100, earliest=0)
        await reader._process(_batch(range(100, 150)))
        await reader._process(_batch(range(151, 200)))  # offset 150: a commit marker
        assert reader.truncated == {}

    asyncio.run(run())
