"""``harmwatch backtest --from-kafka`` against a real broker (issue #9, chaos seed 17).

A watermark record in a quiet partition's log makes an event read after it late, where a
backtest of the file counts it. The test writes such a record itself, as a worker's idle
check does, then an appeal behind it; a worker (idle check off, so the log holds only
what the test wrote) must then equal the replay of the logs in every row and counter,
and both must differ from the file backtest by exactly that one appeal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from signals.events import Rejected, decode_event
from signals.pane_messages import watermark_headers
from streams.backtest.partitioned import partition_of
from tests.streaming.kafka_harness import (
    Env,
    Worker,
    dedupe_rows,
    metric_sum,
    read_jsonl,
    simulate,
    wait_until,
)

pytestmark = pytest.mark.integration
PANE = 60
COUNTS = re.compile(r"events: ([\d,]+) counted, ([\d,]+) duplicates, ([\d,]+) late")


def _counts(text: str) -> tuple[int, int, int]:
    match = COUNTS.search(text)
    assert match is not None, text[-2000:]
    counted, dups, late = (int(g.replace(",", "")) for g in match.groups())
    return counted, dups, late


def _appeal_for_partition_0(template: dict[str, object], at: float, partitions: int) -> bytes:
    for n in range(10_000):
        eid = f"behind-the-mark-{n}"
        if partition_of(eid.encode(), partitions) == 0:
            event = {**template, "event_id": eid,
                     "occurred_at": _stamp(at)}
            return orjson.dumps(event)
    raise AssertionError("no id routes to partition 0")


def _stamp(at: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def test_from_kafka_reproduces_a_worker_behind_a_watermark_record(
        env: Env, workers: list[Worker], tmp_path: Path) -> None:
    events = simulate(env, tmp_path / "sim.jsonl", "40m")
    lines = [x for x in events.read_bytes().splitlines() if x.strip()]
    parts = env.partitions
    # Appeals partition 0: its newest event time, and an appeal template from it.
    newest0, template, newest = float("-inf"), None, float("-inf")
    for raw in lines:
        event = decode_event(raw)
        if isinstance(event, Rejected):
            continue
        at = event.occurred_at.timestamp()
        newest = max(newest, at)
        if type(event).__name__ == "Appeal" and partition_of(event.event_id.encode(),
                                                              parts) == 0:
            if at > newest0:
                newest0, template = at, orjson.loads(raw)
    assert template is not None
    # 30 s behind its partition's newest event: within the allowed lateness (60 s), so the
    # file backtest counts it; the record closes its pane first, so the worker does not.
    behind = _appeal_for_partition_0(template, newest0 - 30, parts)
    mark = (int(newest0 // PANE) + 2) * PANE
    assert int((newest0 - 30) // PANE) * PANE < mark
    end = (int(max(newest, mark) // PANE) + 1) * PANE

    with_extra = tmp_path / "events.jsonl"
    with_extra.write_bytes(events.read_bytes().rstrip(b"\n") + b"\n" + behind + b"\n")
    file_run = env.run("backtest", "--events", str(with_extra), "--partitions", str(parts))
    assert file_run.returncode == 0, file_run.stderr
    file_counts = _counts(file_run.stdout)

    absent = env.run("backtest", "--from-kafka")  # before the topics exist
    assert absent.returncode == 2 and f"topic {env.topic('decisions')} does not exist" in (
        absent.stderr)
    assert env.run("topics", "create").returncode == 0
    env.produce(events)  # no final watermark: the test writes the records itself
    producer = KafkaProducer(bootstrap_servers=env.broker)
    appeals = env.topic("appeals")
    producer.send(appeals, value=b"", partition=0, headers=watermark_headers(mark))
    producer.send(appeals, key=json.loads(behind)["event_id"].encode(), value=behind,
                  partition=0)
    for stream in ("decisions", "appeals", "reports"):
        for p in range(parts):
            producer.send(env.topic(stream), value=b"", partition=p,
                          headers=watermark_headers(end))
    producer.flush()
    producer.close()

    w = Worker(env, "w1", "--idle-after", "0")
    workers.append(w.start())
    log_signals = tmp_path / "log-signals.jsonl"
    log_run = env.run("backtest", "--from-kafka", "--signals-out", str(log_signals))
    assert log_run.returncode == 0, log_run.stderr
    assert "from-kafka:" in log_run.stderr
    log_counts = _counts(log_run.stdout)
    counted, dups, late = file_counts
    assert log_counts == (counted - 1, dups, late + 1)

    expected = dedupe_rows(read_jsonl(log_signals))
    assert len(expected) > 500

    def outcomes() -> tuple[float, ...]:
        m = w.metrics()
        return tuple(metric_sum(m, "harmwatch_events_total", outcome=o)
                     for o in ("counted", "duplicate", "late"))

    def caught_up() -> bool:
        # Counters reach /metrics with the snapshot covering them, after the rows.
        return (len(dedupe_rows(w.rows())) >= len(expected)
                and sum(outcomes()) >= sum(log_counts))

    wait_until(caught_up, 180, "the worker to read every record")
    assert outcomes() == log_counts
    assert dedupe_rows(w.rows()) == expected
    # The file backtest's rows differ exactly where that appeal falls.
    file_signals = tmp_path / "file-signals.jsonl"
    assert env.run("backtest", "--events", str(with_extra), "--partitions", str(parts),
                   "--signals-out", str(file_signals)).returncode == 0
    differ = {k for k, v in dedupe_rows(read_jsonl(file_signals)).items()
              if expected.get(k) != v}
    assert differ and all(k[0] == template["policy_area"] for k in differ)
