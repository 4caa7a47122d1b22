"""The source side snapshots a partition only after Kafka has its dead letters (#9 item 10).

A snapshot covers the offsets of the messages it dead-lettered, so a restarted worker does
not read them again: a dead letter still in flight when the snapshot is written would be
lost by a crash. No broker here: the topics and the table are in-memory fakes that record
what was sent and when.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from faust.types import TP

from streams.config_files import load_config
from streams.kafka.ingest_side import IngestSide
from streams.kafka.settings import KafkaSettings
from streams.kafka.worker_metrics import Counters


@dataclass
class Record:
    offset: int
    value: bytes
    key: bytes = b"k"
    headers: Any = None
    # The send time in seconds (a Faust message's unit): after every event here, so the
    # future-date guard (judged against it) refuses none.
    timestamp: float = 1_800_000_000.0


class Topic:
    """``send`` returns a delivery future that the test resolves (or, ``acked``, one that
    is resolved already)."""

    def __init__(self, acked: bool = False) -> None:
        self.acked = acked
        self.sent: list[tuple[Any, asyncio.Future[Any]]] = []

    async def send(self, **kwargs: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.acked:
            fut.set_result(None)
        self.sent.append((kwargs, fut))
        return fut


class Table:
    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.changelog: list[tuple[int | None, Any]] = []

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> None:
        self.changelog.append((partition, key))


def _side() -> tuple[IngestSide, Topic, Table]:
    settings = KafkaSettings(topic_prefix="t.")
    dead, panes, table = Topic(), Topic(acked=True), Table()
    topics = SimpleNamespace(dead_letter=dead, panes=panes, ingest_table=table)
    side = IngestSide(cast(Any, None), load_config(), settings, cast(Any, topics), Counters())
    return side, dead, table


REPORT = orjson.dumps({"event_id": "r1", "type": "report", "policy_area": "youth_safety",
                       "occurred_at": "2026-11-24T08:00:00Z", "reporter": "user"})


def test_snapshot_waits_for_the_dead_letters_it_covers() -> None:
    async def run() -> None:
        side, dead, table = _side()
        tp = TP("t.reports", 0)
        await side.ingest_records(tp, [Record(0, REPORT), Record(1, b"not json")])
        assert len(dead.sent) == 1 and dead.sent[0][0]["value"] == b"not json"
        snapshot = asyncio.create_task(side.snapshot([tp]))
        await asyncio.sleep(0.05)
        assert not snapshot.done() and table.changelog == []  # still waiting for Kafka
        dead.sent[0][1].set_result(None)  # the broker acknowledged the dead letter
        await asyncio.wait_for(snapshot, 5)
        assert table.changelog == [(0, b"t.reports:0")]
        assert orjson.loads(table.data[b"t.reports:0"])["next_offset"] == 2

    asyncio.run(run())


def test_a_failed_dead_letter_leaves_no_snapshot() -> None:
    async def run() -> None:
        side, dead, table = _side()
        tp = TP("t.reports", 3)
        await side.ingest_records(tp, [Record(7, b"[1, 2]")])
        dead.sent[0][1].set_exception(RuntimeError("broker gone"))
        with pytest.raises(RuntimeError, match="broker gone"):
            await side.snapshot([tp])
        assert table.changelog == [] and table.data == {}

    asyncio.run(run())
