"""Counts on /metrics are exact across a SIGKILL, a takeover and a handover (#9 hardening).

Two :class:`IngestSide` s share one fake table, as an old and a new owner of a source
partition share the changelog; "killed" means the side is dropped without another
snapshot. The truth is written by hand: each test feeds four valid reports once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from faust.types import TP

from signals.config import Config
from streams.config_files import load_config
from streams.kafka import heartbeats
from streams.kafka.ingest_side import IngestSide
from streams.kafka.stall_fence import StallFence
from tests.streaming.test_kafka_worker_wiring import T0, Record, Table, _ingest, _report

TP0 = TP("t.reports", 0)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


# Four reports, a minute apart; offsets 0-3.
RECORDS = [Record(n, _report(f"r{n}", T0 + dt.timedelta(minutes=n))) for n in range(4)]


def exported(side: IngestSide) -> int:
    return sum(side.counters.events.values())


async def restore_and_reread(table: Table, config: Config) -> IngestSide:
    """A new owner: restore the snapshot and read the log again from where it says."""
    side, _, _ = _ingest(config, table=table)
    start = side.take_over([TP0])[TP0]
    await side.ingest_records(TP0, RECORDS[start:])
    return side


def test_a_sigkilled_owners_uncovered_reads_are_exported_by_the_next_owner_only(
        config: Config) -> None:
    async def run() -> None:
        a, _, table = _ingest(config)
        await a.ingest_records(TP0, RECORDS[:2])
        await a.snapshot([TP0])
        await a.ingest_records(TP0, RECORDS[2:])  # read, counted, not covered: then SIGKILL
        assert exported(a) == 2
        b = await restore_and_reread(table, config)
        assert exported(b) == 0  # nothing is exported before a snapshot covers it
        await b.snapshot([TP0])
        assert exported(a) + exported(b) == 4  # before: a showed 4 and b 2

    asyncio.run(run())


def test_a_handover_leaves_the_last_counts_to_the_next_owner(config: Config) -> None:
    async def run() -> None:
        a, _, table = _ingest(config)
        await a.ingest_records(TP0, RECORDS[:2])
        await a.snapshot([TP0])
        await a.ingest_records(TP0, RECORDS[2:])
        await a.snapshot([TP0], final=True)  # a revoke or a SIGTERM: handing on
        assert exported(a) == 2
        b, _, _ = _ingest(config, table=table)
        start = b.take_over([TP0])[TP0]
        assert start == 4 or b.parts[TP0].replaying
        assert b.needs_snapshot([TP0]) == [TP0]  # though no new message may ever come
        await b.snapshot([TP0])
        assert exported(a) + exported(b) == 4
        assert b.needs_snapshot([TP0]) == []

    asyncio.run(run())


def test_a_new_owner_killed_before_its_first_snapshot_exported_nothing(
        config: Config) -> None:
    async def run() -> None:
        a, _, table = _ingest(config)
        await a.ingest_records(TP0, RECORDS[:3])
        await a.snapshot([TP0], final=True)
        b = await restore_and_reread(table, config)  # then SIGKILL, no snapshot
        c = await restore_and_reread(table, config)
        await c.snapshot([TP0])
        assert (exported(a), exported(b), exported(c)) == (0, 0, 4)

    asyncio.run(run())


def test_a_sigterm_turns_every_later_snapshot_into_a_handover(config: Config) -> None:
    async def run() -> None:
        a, _, table = _ingest(config)
        await a.ingest_records(TP0, RECORDS[:2])
        a.handing_over = True
        await a.snapshot([TP0])
        assert exported(a) == 0
        b = await restore_and_reread(table, config)
        await b.snapshot([TP0])
        assert exported(b) == 4

    asyncio.run(run())


async def read_two_snapshot_read_two(config: Config, now: list[float]
                                     ) -> tuple[IngestSide, Table, dict[Any, Any]]:
    """A side on the clock ``now``: records 0-1 read and snapshotted, 2-3 read only; with
    the table's contents as that snapshot left them."""
    a, _, table = _ingest(config)
    a.fence = StallFence(10.0, 2.0, clock=lambda: now[0])
    await a.ingest_records(TP0, RECORDS[:2])
    await a.snapshot([TP0])
    before = dict(table.data)
    await a.ingest_records(TP0, RECORDS[2:])
    return a, table, before


def test_a_worker_thawed_after_the_session_timeout_writes_no_snapshot(config: Config) -> None:
    now = [100.0]

    async def run() -> None:
        a, table, before = await read_two_snapshot_read_two(config, now)
        now[0] += 15.0  # SIGSTOPped past the session timeout
        assert await a.snapshot([TP0]) == [TP0]  # not written: the reader tries again
        assert table.data == before and exported(a) == 2  # its successor counts 2 and 3
        for _ in range(28):  # 14 s of a running loop, no rebalance: it was not replaced
            now[0] += 0.5
            a.fence.tick()
        await a.snapshot([TP0])
        assert exported(a) == 4

    asyncio.run(run())


def test_a_busy_loop_under_half_the_session_timeout_is_not_a_stall() -> None:
    now = [0.0]
    fence = StallFence(10.0, 2.0, clock=lambda: now[0])
    for _ in range(20):
        now[0] += 4.9
        assert not fence.blocked()
    now[0] += 5.1
    assert fence.blocked()


def test_a_slow_start_is_not_a_stall() -> None:
    now = [0.0]
    fence = StallFence(10.0, 2.0, clock=lambda: now[0])
    now[0] += 30.0  # Faust took 30 s to start its timers
    assert not fence.blocked()


def test_a_worker_stopped_while_its_announcements_were_delivered_writes_no_snapshot(
        config: Config) -> None:
    """The stop lands inside a snapshot: after the fence was asked, while the pane
    announcements are being delivered (one CI chaos run counted 114 of 30,615 twice)."""
    now = [100.0]

    async def run() -> None:
        a, table, before = await read_two_snapshot_read_two(config, now)
        publish = a.publish

        async def stopped_while_publishing(*args: object, **kwargs: object) -> None:
            now[0] += 15.0  # SIGSTOPped past the session timeout, mid-snapshot
            await publish(*args, **kwargs)  # type: ignore[arg-type]

        a.publish = stopped_while_publishing  # type: ignore[method-assign]
        assert await a.snapshot([TP0]) == [TP0]  # not written: it may have been replaced
        assert table.data == before and exported(a) == 2  # its successor counts 2 and 3

    asyncio.run(run())


def test_a_worker_stopped_while_its_snapshot_was_on_its_way_exports_and_says_so(
        config: Config) -> None:
    """The stop lands after the last fence check, while the changelog record is being
    delivered: the snapshot is in Kafka, so the counts are exported (a successor that
    restored it will not count them), and the stall is counted for /metrics."""
    now = [100.0]

    async def run() -> None:
        a, table, _ = await read_two_snapshot_read_two(config, now)

        async def stalled_delivery() -> None:
            now[0] += 15.0  # SIGSTOPped past the session timeout, the record in flight

        table.send_changelog = lambda *_: stalled_delivery()  # type: ignore[method-assign, assignment]
        assert a.counters.stalled_writes == 0
        assert await a.snapshot([TP0]) == []
        assert exported(a) == 4
        assert a.counters.stalled_writes == 1

    asyncio.run(run())


def test_no_snapshot_while_the_group_has_not_accepted_a_heartbeat(config: Config) -> None:
    """A worker dropped from the group without any stall of its loop (its heartbeats
    refused or unanswered, as after a broker restart) reads on, but writes and exports
    nothing until a heartbeat is accepted again: its successor counts those offsets."""
    now, heard = [100.0], [1.0]

    async def run() -> None:
        a, _, table = _ingest(config)
        a.fence = StallFence(10.0, 2.0, clock=lambda: now[0], heartbeat_age=lambda: heard[0])
        await a.ingest_records(TP0, RECORDS[:2])
        assert await a.snapshot([TP0]) == []
        assert exported(a) == 2
        before = dict(table.data)
        await a.ingest_records(TP0, RECORDS[2:])
        heard[0] = 5.5  # over half the session timeout without an accepted heartbeat
        assert await a.snapshot([TP0]) == [TP0]
        assert table.data == before and exported(a) == 2
        heard[0] = 0.3  # still a member after all: snapshots resume, nothing lost
        assert await a.snapshot([TP0]) == []
        assert exported(a) == 4

    asyncio.run(run())


def test_the_fence_does_not_wait_for_a_first_heartbeat() -> None:
    fence = StallFence(10.0, 2.0, clock=lambda: 0.0, heartbeat_age=lambda: None)
    assert not fence.blocked()  # joining: nothing to fence yet


def test_accepted_heartbeats_are_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heartbeats, "_last_ok", [None])
    answers = iter([True, False])
    t = [50.0]

    async def original(self: object) -> bool:
        return next(answers)

    wrapped = heartbeats.recording(original, clock=lambda: t[0])
    assert heartbeats.age(lambda: t[0]) is None
    assert asyncio.run(wrapped(object())) is True
    t[0] = 53.0
    assert heartbeats.age(lambda: t[0]) == 3.0
    assert asyncio.run(wrapped(object())) is False  # refused: the age keeps growing
    t[0] = 57.5
    assert heartbeats.age(lambda: t[0]) == 7.5


def test_the_coordinator_is_wrapped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.consumer.group_coordinator import GroupCoordinator

    original = GroupCoordinator._do_heartbeat
    monkeypatch.setattr(GroupCoordinator, "_do_heartbeat", original)
    monkeypatch.setattr(GroupCoordinator, heartbeats._PATCHED, False, raising=False)
    heartbeats.apply()
    wrapped = GroupCoordinator._do_heartbeat
    heartbeats.apply()
    assert wrapped is not original and GroupCoordinator._do_heartbeat is wrapped
