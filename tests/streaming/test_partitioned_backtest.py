"""``harmwatch backtest --partitions N``: the producer's routing and the worker's lateness."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest
from kafka.partitioner.default import DefaultPartitioner

from signals.config import Config
from signals.records import Episode
from streams.backtest.partitioned import partition_of, run_partitioned
from streams.backtest.replay import run_backtest
from streams.cli.main import main
from streams.config_files import load_config
from streams.sources.simulator import Simulator, schedule


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def _library_partition(key: bytes, partitions: int) -> int:
    """kafka-python's own partitioner, over a stand-in for its cluster metadata."""
    everything = set(range(partitions))
    cluster = SimpleNamespace(topics=lambda: {"t"}, partitions_for_topic=lambda t: everything,
                              available_partitions_for_topic=lambda t: everything)
    result: int = DefaultPartitioner().partition("t", key, key, b"", b"", cluster)
    return result


def test_routing_is_kafka_pythons_default_partitioner() -> None:
    rng = random.Random(7)
    keys = [f"ev-{rng.getrandbits(64):x}".encode() for _ in range(2000)] + [b"", b"a", b"\xff"]
    for partitions in (1, 3, 6, 7, 64):
        assert [partition_of(k, partitions) for k in keys] == [
            _library_partition(k, partitions) for k in keys]


def _report(event_id: str, at: dt.datetime) -> bytes:
    return (b'{"event_id": "%s", "type": "report", "occurred_at": "%s",'
            b' "policy_area": "youth_safety", "reporter": "user"}'
            % (event_id.encode(), at.isoformat().encode()))


def test_lateness_per_partition_as_a_worker_counts_it(config: Config, tmp_path: Path) -> None:
    """The second event is 10 minutes older than the first: late for one engine over the
    file, counted by a worker when the two ids land on different partitions."""
    ids = [f"r{i}" for i in range(100)]
    first = next(i for i in ids if partition_of(i.encode(), 2) == 0)
    second = next(i for i in ids if partition_of(i.encode(), 2) == 1)
    t0 = dt.datetime(2026, 11, 24, 8, 0, 30, tzinfo=dt.UTC)
    path = tmp_path / "events.jsonl"
    path.write_bytes(_report(first, t0 + dt.timedelta(minutes=10)) + b"\n"
                     + _report(second, t0) + b"\n" + b"not json\n")
    single = run_backtest(config, path).engine.ingest
    assert (single.counted, single.late) == (2 - 1, 1)
    rows_out = tmp_path / "rows.jsonl"
    worker = run_partitioned(config, path, 2, signals_out=rows_out)
    assert (worker.engine.ingest.counted, worker.engine.ingest.late) == (2, 0)
    assert worker.invalid_total == 1
    rows = [msgspec.json.decode(line) for line in rows_out.read_bytes().splitlines()]
    minute = [r for r in rows if r["policy_area"] == "youth_safety" and r["market"] is None
              and r["signal"] == "report_volume" and r["window_start"].startswith(
                  "2026-11-24T08:00:00")]
    assert [r["value"] for r in minute][:1] == [1]  # the older report is in its window


def test_cli_partitions_equals_single_engine_without_late_data(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[
                                                                  str]) -> None:
    start = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    sim = Simulator(start=start, seed=3, incidents=schedule(start + dt.timedelta(minutes=20), 3),
                    duplicate_rate=0.01, invalid_rate=0.002, scale=0.5)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + b"\n" for _, line in sim.lines(50 * 60)))
    outputs = []
    for extra in ([], ["--partitions", "4"]):
        assert main(["backtest", "--events", str(path), "--format", "jsonl", *extra]) == 0
        outputs.append([msgspec.json.decode(line, type=Episode)
                        for line in capsys.readouterr().out.splitlines()])
    assert outputs[0] and outputs[1] == outputs[0]


def test_cli_refuses_a_partition_count_that_is_not_a_positive_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backtest", "--events", str(tmp_path / "x.jsonl"), "--partitions", "0"])
    assert "whole number from 1 to 1024" in capsys.readouterr().err
