"""The worker's sides wired to the merge rules (#9 items 5-8), without a broker.

Topics, table, producer and consumer are in-memory fakes that record what was sent; the
sides, the merge and the collector are the real ones. Expected values are written by hand
or come from the single-engine backtest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP
from prometheus_client import generate_latest

from alerts.metrics import new_registry
from signals.config import Config
from signals.events import Rejected, decode_event
from signals.merge import AreaMerge, SourcePartition, encode, pane_partition, source_id
from signals.pane_messages import WATERMARK_HEADER
from streams.backtest.partitioned import partition_of
from streams.backtest.replay import run_backtest
from streams.config_files import load_config
from streams.kafka.ingest_side import IngestSide
from streams.kafka.merge_side import MergeSide
from streams.kafka.options import WorkerOptions
from streams.kafka.runtime import worker_group_watermark
from streams.kafka.settings import KafkaSettings
from streams.kafka.worker_metrics import Counters, WorkerCollector
from streams.sources.simulator import Simulator, schedule

T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@dataclass
class Record:
    offset: int
    value: bytes
    key: bytes = b"k"
    headers: Any = None
    # Seconds, as a Faust message has it: sent a day after T0, so no event here is ahead.
    timestamp: float = (T0 + dt.timedelta(days=1)).timestamp()


class Topic:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> asyncio.Future[Any]:
        self.sent.append(kwargs)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    async def send(self, *args: Any) -> asyncio.Future[Any]:
        self.sent.append(args)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class Table:
    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.changelog: list[tuple[int | None, Any]] = []

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> None:
        self.changelog.append((partition, key))


class Consumer:
    def __init__(self, high: dict[TP, int]) -> None:
        self.high = high

    def assignment(self) -> list[TP]:
        return list(self.high)

    def highwater(self, tp: TP) -> int | None:
        return self.high.get(tp)


def _ingest(config: Config, idle_after: float = 0.0,
            table: Table | None = None) -> tuple[IngestSide, Producer, Table]:
    """``table``: another side's, to restore what it snapshotted (a new owner)."""
    settings = KafkaSettings(topic_prefix="t.", idle_after_s=idle_after)
    producer, table = Producer(), table or Table()
    app = SimpleNamespace(producer=producer, rebalancing=False,
                          tables=SimpleNamespace(recovery=None))
    topics = SimpleNamespace(dead_letter=Topic(), panes=Topic(), ingest_table=table)
    side = IngestSide(cast(Any, app), config, settings, cast(Any, topics), Counters())
    return side, producer, table


def _report(event_id: str, at: dt.datetime) -> bytes:
    return orjson.dumps({"event_id": event_id, "type": "report", "policy_area": "youth_safety",
                         "occurred_at": at.isoformat(), "reporter": "user"})


def _aiokafka(offset: int, value: bytes, sent: dt.datetime) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic="t.reports", partition=0, offset=offset,
                          timestamp=int(sent.timestamp() * 1000), timestamp_type=0,
                          key=b"k", value=value, checksum=None, serialized_key_size=1,
                          serialized_value_size=len(value), headers=())


# --- future dates (#9 item 7) ------------------------------------------------------------


def test_future_dates_are_judged_against_the_record_timestamp(config: Config) -> None:
    """Ten minutes after the record's send time is the limit, whatever this worker's clock
    says: 2031 sent in 2031 is fine, 08:20 sent at 08:00 (years ago) is not."""
    async def run() -> None:
        side, _, _ = _ingest(config)
        tp = TP("t.reports", 0)
        later = dt.datetime(2031, 3, 1, 12, 0, tzinfo=dt.UTC)
        await side.ingest_records(tp, [
            _aiokafka(0, _report("a", later + dt.timedelta(minutes=9)), later),
            _aiokafka(1, _report("b", T0 + dt.timedelta(minutes=20)), T0),
            _aiokafka(2, _report("c", T0 + dt.timedelta(minutes=5)), T0),
        ])
        await side.snapshot([tp])  # counts reach /metrics with the snapshot covering them
        assert side.counters.invalid == {("report", "future_timestamp:occurred_at"): 1}
        letters = cast(Topic, side.dead_letters.topic).sent
        assert [orjson.loads(m["value"])["event_id"] for m in letters] == ["b"]
        assert sum(side.counters.events.values()) == 2

    asyncio.run(run())


# --- idle watermark records (#9 items 5-6) -------------------------------------------------


def test_a_quiet_caught_up_partition_gets_the_groups_watermark_record(config: Config) -> None:
    async def run() -> None:
        side, producer, _ = _ingest(config, idle_after=5.0)
        quiet, busy = TP("t.reports", 1), TP("t.reports", 2)
        await side.ingest_records(quiet, [Record(0, _report("q", T0))])
        await side.ingest_records(busy, [Record(0, _report("b", T0))])
        # The group has closed everything before 08:10:30 (rounded down to a pane: 08:10).
        group = (T0 + dt.timedelta(minutes=10, seconds=30)).timestamp()
        asked: list[str] = []
        side.group_of = lambda src: asked.append(src) or group  # type: ignore[func-returns-value]
        # Partition 2 has an unread message (high watermark 2 > next offset 1): not idle.
        side.consumer = Consumer({quiet: 1, busy: 2})
        side.last_message[quiet] = side.last_message[busy] = 0.0  # quiet for long
        await side.idle_check()
        mark = (T0 + dt.timedelta(minutes=10)).timestamp()
        assert asked == ["t.reports:1"]
        assert producer.sent == [("t.reports", None, b"", 1, None,
                                  [(WATERMARK_HEADER, repr(mark).encode())])]
        # Read back at its offset, the record closes the partition's panes through 08:10.
        part = side.parts[quiet]
        assert part.ingest.closed_until < mark
        await side.ingest_records(quiet, [Record(1, b"", headers=list(producer.sent[0][5]))])
        assert part.ingest.closed_until == mark and part.next_offset == 2
        assert quiet in side.marked
        # Nothing left to close: the next check writes no second record.
        side.consumer = Consumer({quiet: 2})
        side.last_message[quiet] = 0.0
        await side.idle_check()
        assert len(producer.sent) == 1

    asyncio.run(run())


def test_no_record_while_the_group_has_no_watermark(config: Config) -> None:
    async def run() -> None:
        side, producer, _ = _ingest(config, idle_after=5.0)
        tp = TP("t.reports", 0)
        await side.ingest_records(tp, [Record(0, _report("q", T0))])
        side.group_of = lambda src: None
        side.consumer = Consumer({tp: 1})
        side.last_message[tp] = 0.0
        await side.idle_check()
        assert producer.sent == []

    asyncio.run(run())


# --- snapshot bound (#9 item 8) ------------------------------------------------------------


def test_a_snapshot_over_the_bound_is_refused_counted_and_the_worker_keeps_counting(
        config: Config, caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        side, _, table = _ingest(config)
        tp = TP("t.reports", 4)
        await side.ingest_records(tp, [Record(0, _report("r0", T0))])
        await side.snapshot([tp])
        first = table.data[b"t.reports:4"]
        assert orjson.loads(first)["next_offset"] == 1
        side.snapshot_limit = len(first) - 1  # from now on every snapshot is over the bound
        for n in range(1, 4):
            await side.ingest_records(tp, [Record(n, _report(f"r{n}", T0 + dt.timedelta(
                minutes=n)))])
            await side.snapshot([tp])
        assert table.data[b"t.reports:4"] == first  # the last one that fitted stays
        assert side.counters.snapshots_refused == {"ingest-state": 3}
        # Refused snapshots still export: the counters keep moving (docs/streaming.md).
        assert side.parts[tp].next_offset == 4 and sum(side.counters.events.values()) == 4
        exposition = generate_latest(new_registry(WorkerCollector(
            config, pipelines=[side.counters], worker=cast(Any, _View(side))))).decode()
        assert 'harmwatch_snapshots_refused_total{table="ingest-state"} 3.0' in exposition

    with caplog.at_level(logging.WARNING, logger="harmwatch.worker"):
        asyncio.run(run())
    refusals = [r.getMessage() for r in caplog.records if "previous snapshot" in r.getMessage()]
    assert len(refusals) == 1  # once, not once a second
    assert "t.reports:4" in refusals[0] and "over the" in refusals[0]
    assert "r1" not in refusals[0] and "r2" not in refusals[0]  # no event ids


@dataclass
class _View:
    side: IngestSide
    late_panes: int = 0

    def lags(self) -> Any:
        return iter(())

    def truncated(self) -> Any:
        return iter(())

    def snapshots_refused(self) -> Any:
        return iter(sorted(self.side.counters.snapshots_refused.items()))

    @property
    def stalled_writes(self) -> int:
        return self.side.counters.stalled_writes


# --- episodes (#9 item 8) ------------------------------------------------------------------


@dataclass
class PaneRecord:
    offset: int
    key: bytes
    value: bytes


def test_the_episode_log_keeps_every_closed_episode_beyond_the_bound(
        config: Config, tmp_path: Path) -> None:
    """With one closed episode kept per area, /episodes forgets; the log does not: it has
    every closed episode of the single-engine backtest of the same file."""
    sim = Simulator(start=T0, seed=3, incidents=schedule(T0 + dt.timedelta(minutes=20), 3),
                    duplicate_rate=0.0, invalid_rate=0.0, scale=0.5)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for _, line in sim.lines(70 * 60)))
    expected = [e for e in run_backtest(config, path).engine.evaluator.episodes
                if e.ended_at is not None]
    by_area = {e.policy_area for e in expected}
    assert len(expected) > len(by_area)  # some area has closed more than one

    partitions = 2
    settings = KafkaSettings(topic_prefix="t.", partitions=partitions)
    log_path = tmp_path / "episodes-log.jsonl"
    side = MergeSide(config, settings, Table(), WorkerOptions(episodes_log=log_path),
                     on_closed=lambda: None, keep_closed=1)
    srcs = {s: SourcePartition(config, s, config.areas) for s in side.sources}
    offsets = dict.fromkeys(srcs, 0)
    n = settings.n_pane_partitions
    pane_offsets = dict.fromkeys(range(n), 0)
    tally: dict[Any, int] = {}

    def publish(part: SourcePartition) -> None:
        for area, msg in part.take_messages():
            p = pane_partition(area, n)
            touched = side.merge_records(p, [PaneRecord(pane_offsets[p], area.encode(),
                                                        encode(msg))])
            pane_offsets[p] += 1
            side.close_merged(touched)

    for raw in path.read_bytes().splitlines():
        event = decode_event(raw)
        assert not isinstance(event, Rejected)
        src = source_id(settings.topic(type(event).__name__.lower()),
                        partition_of(event.event_id.encode(), partitions))
        srcs[src].feed(offsets[src], raw, tally)
        offsets[src] += 1
        publish(srcs[src])
    end = (int(sim_end(path) // config.pane_s) + 1) * config.pane_s
    for src, part in srcs.items():
        part.advance(offsets[src], end)
        publish(part)

    logged = [msgspec.json.decode(x, type=type(expected[0]))
              for x in log_path.read_bytes().splitlines()]
    key = lambda e: (e.started_at, e.policy_area, e.market or "", e.signal,  # noqa: E731
                     e.severity)
    assert sorted(logged, key=key) == sorted(expected, key=key)
    for area in by_area:
        assert sum(1 for e in side.episodes()
                   if e.policy_area == area and e.ended_at is not None) <= 1


def sim_end(path: Path) -> float:
    newest = float("-inf")
    for raw in path.read_bytes().splitlines():
        event = decode_event(raw)
        assert not isinstance(event, Rejected)
        newest = max(newest, event.occurred_at.timestamp())
    return newest


def test_group_watermark_from_the_merges_or_else_from_own_partitions(config: Config) -> None:
    a, b, c = (SourcePartition(config, s, config.areas) for s in ("t.r:0", "t.r:1", "t.r:2"))
    tps = {TP("t.r", i): p for i, p in enumerate((a, b, c))}
    a.announced, b.announced = 600.0, 420.0  # c has announced nothing yet
    # Without area merges: the lowest other frontier, None while one has none.
    assert worker_group_watermark([], tps, [], "t.r:0") is None
    c.announced = 900.0
    assert worker_group_watermark([], tps, [], "t.r:0") == 420.0
    # A partition last moved by a watermark record does not hold the others back.
    assert worker_group_watermark([], tps, [TP("t.r", 1)], "t.r:0") == 900.0
    # With area merges: theirs (they hear from every source), the lowest of them.
    m1, m2 = (AreaMerge(config, area, ["t.r:0", "t.r:1", "t.r:2"]) for area in config.areas[:2])
    m1.frontier = {"t.r:0": 60.0, "t.r:1": 300.0, "t.r:2": 360.0}
    m2.frontier = {"t.r:0": 60.0, "t.r:1": 240.0, "t.r:2": 360.0}
    assert worker_group_watermark([m1, m2], tps, [], "t.r:0") == 240.0
    m2.frontier = {"t.r:0": 60.0, "t.r:1": 240.0}
    assert worker_group_watermark([m1, m2], tps, [], "t.r:0") is None


def test_a_reload_reaches_every_area_merge_and_later_ones(config: Config) -> None:
    side = MergeSide(config, KafkaSettings(topic_prefix="t."), Table(), WorkerOptions(),
                     on_closed=lambda: None)
    held = side.merge(config.areas[0], 0)
    new = load_config()  # a distinct object: which one an evaluator holds is visible
    side.reconfigure(new)
    assert held.evaluator.config is new
    assert side.merge(config.areas[1], 0).evaluator.config is new
