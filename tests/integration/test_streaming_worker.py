"""The streaming path against a real Apache Kafka broker (the ``kafka_broker`` fixture).

Every worker is a ``harmwatch worker`` subprocess and every event goes through
``harmwatch produce``. Expected values come from ``harmwatch backtest`` over the same file.
The produce step ends with ``--final-watermark``, which makes the workers close the last
panes exactly where the backtest's end of file does; so rows and episodes must be equal,
not just close.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from signals.events import Rejected, decode_event
from streams.backtest.partitioned import partition_of
from streams.backtest.replay import run_backtest
from streams.config_files import load_config
from streams.dev.kafka_broker import LocalKafka
from tests.streaming.kafka_harness import (
    Env,
    MetricNotExposed,
    Worker,
    backtest,
    dedupe_rows,
    metric_sum,
    read_jsonl,
    simulate,
    sorted_episodes,
    wait_until,
)
from tests.support import REPO, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 minutes of simulated traffic (~50k events, two incidents that page once the
    baselines are warm), no late events, so that how partitions interleave cannot change
    any window."""
    tmp = tmp_path_factory.mktemp("events")
    env = Env("127.0.0.1:1", tmp)
    path = simulate(env, tmp / "events.jsonl", "50m", "--invalid-rate", "0.001")
    pipeline = run_backtest(load_config(), path)
    assert pipeline.engine.ingest.late == 0
    assert pipeline.engine.ingest.duplicates > 0  # the simulator redelivers some ids
    return path


def _start(workers: list[Worker], w: Worker) -> Worker:
    workers.append(w)
    return w.start()


def _all_rows(ws: list[Worker]) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for w in ws:
        rows.extend(w.rows())
    return dedupe_rows(rows)


def _wait_rows(ws: list[Worker], expected: dict[tuple[Any, ...], dict[str, Any]],
               timeout: float) -> dict[tuple[Any, ...], dict[str, Any]]:
    def done() -> dict[tuple[Any, ...], dict[str, Any]] | None:
        for w in ws:
            assert w.alive() or w.proc is None or w.proc.returncode in (-9, 0), w.stderr[-3000:]
        got = _all_rows(ws)
        return got if len(got) >= len(expected) else None

    return wait_until(done, timeout, f"{len(expected)} signal rows")


def test_topics_create_is_idempotent(env: Env) -> None:
    first = env.run("topics", "create")
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == 7  # 5 topics and the 2 table changelogs
    again = env.run("topics", "create")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("exists") == 7 and "created" not in again.stdout
    admin = KafkaAdminClient(bootstrap_servers=env.broker)
    try:
        described = {t["name"]: len(t["partitions"])
                     for t in admin.describe_topics([env.topic("decisions"),
                                                     env.topic("deadletter")])}
    finally:
        admin.close()
    assert described == {env.topic("decisions"): 6, env.topic("deadletter"): 1}
    clash = env.run("topics", "create", "--partitions", "3")
    assert clash.returncode == 1 and "exists with 6 partitions" in clash.stderr


def test_worker_equals_backtest(env: Env, events_file: Path, workers: list[Worker]) -> None:
    expected, episodes = backtest(env, events_file)
    assert len(expected) > 1000 and episodes
    assert env.run("topics", "create").returncode == 0
    produced = env.produce(events_file, "--final-watermark")
    assert "final watermark" in produced.stderr
    w = _start(workers, Worker(env, "w1"))
    got = _wait_rows([w], expected, timeout=180)
    assert got == expected
    wait_until(lambda: sorted_episodes(read_jsonl(w.episodes)) == sorted_episodes(episodes),
               60, "the worker's alert episodes to equal the backtest's")
    lines = [x for x in events_file.read_bytes().splitlines() if x.strip()]
    valid_ids = {e.event_id for x in lines if not isinstance(e := decode_event(x), Rejected)}

    def all_counted() -> str | None:
        # Counts reach /metrics with the snapshot covering them (about a second later).
        m = w.metrics()
        return m if metric_sum(m, "harmwatch_events_total",
                               outcome="counted") >= len(valid_ids) else None

    metrics = wait_until(all_counted, 60, f"{len(valid_ids)} counted events on /metrics")
    assert metric_sum(metrics, "harmwatch_events_total", outcome="counted") == len(valid_ids)
    assert metric_sum(metrics, "harmwatch_consumer_lag") == 0
    assert 'harmwatch_consumer_lag{partition="5",topic="' + env.topic("reports") in metrics


def _dead_letters(env: Env, count: int) -> list[Any]:
    consumer = KafkaConsumer(env.topic("deadletter"), bootstrap_servers=env.broker,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=2000)
    got: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            got.extend(consumer)
    finally:
        consumer.close()
    return got


def test_invalid_messages_are_dead_lettered_and_duplicates_counted_once(
        env: Env, workers: list[Worker]) -> None:
    good = []
    for i in range(200):
        when = f"2026-11-24T08:{i // 60:02d}:{i % 60:02d}Z"
        good.append({"event_id": f"r{i}", "type": "report", "occurred_at": when,
                     "policy_area": "youth_safety", "reporter": "user"})
    bad = [b"not json at all", b'{"event_id": "x1", "type": "report"}',
           b'{"event_id": "x2", "type": "report", "occurred_at": "2026-11-24T08:00:01Z", '
           b'"policy_area": "youth_safety", "reporter": "martian"}', b"[1, 2, 3]"]
    lines: list[bytes] = []
    for i, e in enumerate(good):
        lines.append(orjson.dumps(e))
        if i % 50 == 10:
            lines.append(bad[i // 50])
    lines.insert(120, orjson.dumps(good[100]))  # the same event_id delivered twice
    path = env.tmp / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    refused = env.run("produce", "--events", str(path))
    assert refused.returncode == 1 and "harmwatch topics create" in refused.stderr
    assert env.run("topics", "create").returncode == 0
    env.produce(path, "--final-watermark")
    w = _start(workers, Worker(env, "dl"))

    def counted() -> str | None:
        m = w.metrics()
        return m if metric_sum(m, "harmwatch_events_total", outcome="counted") >= 200 else None

    metrics = wait_until(counted, 120, "200 counted events on /metrics")
    assert metric_sum(metrics, "harmwatch_events_total", outcome="counted") == 200
    assert metric_sum(metrics, "harmwatch_events_total", outcome="duplicate") == 1
    assert metric_sum(metrics, "harmwatch_invalid_events_total") == 4
    rows = wait_until(lambda: [r for r in w.rows() if r["signal"] == "report_volume"
                               and r["policy_area"] == "youth_safety"
                               and r["window_end"] == "2026-11-24T08:04:00Z"],
                      60, "the 07:59-08:04 report_volume row")
    # One report a second from 08:00:00 to 08:03:19; the duplicate is not counted. The
    # final watermark closes panes through 08:04, the end of the newest event's pane.
    assert rows[0]["value"] == 200

    letters = _dead_letters(env, 4)
    assert sorted(m.value for m in letters) == sorted(bad)  # original bytes, unchanged
    for m in letters:
        headers = {k: v.decode() for k, v in m.headers}
        assert headers["harmwatch-source-topic"] == env.topic("decisions")
        assert int(headers["harmwatch-source-offset"]) >= 0
        assert headers["harmwatch-source-partition"].isdigit()
        assert headers["harmwatch-reason"]
    reasons = {m.value: dict(m.headers)["harmwatch-reason"].decode() for m in letters}
    assert reasons[b"not json at all"] == "not_json"
    assert "occurred_at" in reasons[bad[1]]


def _reports(ids: range) -> bytes:
    return b"".join(orjson.dumps({
        "event_id": f"r{i}", "type": "report", "policy_area": "youth_safety",
        "occurred_at": f"2026-11-24T08:{i // 60:02d}:{i % 60:02d}Z", "reporter": "user",
    }) + b"\n" for i in ids)


def test_redelivery_after_a_restart_is_counted_once(env: Env, workers: list[Worker]) -> None:
    """Snapshots carry no dedupe ids; a restarted worker re-reads them from the log. Copies
    of events the killed worker had counted and snapshotted must come out as duplicates."""
    assert env.run("topics", "create").returncode == 0
    first = env.tmp / "first.jsonl"
    first.write_bytes(_reports(range(300)))
    env.produce(first)
    w1 = _start(workers, Worker(env, "r1"))
    wait_until(lambda: metric_sum(w1.metrics(), "harmwatch_events_total",
                                  outcome="counted") >= 300, 120, "300 counted events")
    time.sleep(3)  # a periodic snapshot (every half second) now covers all 300
    w1.kill()
    second = env.tmp / "second.jsonl"
    # Copies of events whose pane is still open (the newest is 08:04:59, lateness 60 s).
    second.write_bytes(_reports(range(250, 300)) + _reports(range(300, 400)))
    env.produce(second, "--final-watermark")
    w2 = _start(workers, Worker(env, "r2"))

    def settled() -> str | None:
        m = w2.metrics()
        done = metric_sum(m, "harmwatch_events_total") >= 150
        return m if done else None

    metrics = wait_until(settled, 120, "the restarted worker to see the second file")
    assert metric_sum(metrics, "harmwatch_events_total", outcome="duplicate") == 50
    assert metric_sum(metrics, "harmwatch_events_total", outcome="counted") == 100
    assert "dedupe ids rebuilt from the log" in w2.stderr

    admin = KafkaAdminClient(bootstrap_servers=env.broker)
    try:
        from kafka.admin import ConfigResource, ConfigResourceType
        changelog = f"{env.app_id}-ingest-state-changelog"
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC,
                                                           changelog)])
    finally:
        admin.close()
    # A partition's snapshot is one record and may outgrow Kafka's 1 MB default.
    assert "16777216" in repr(described)


def _end_offsets(env: Env, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=env.broker)
    try:
        tps = [TopicPartition(topic, p) for p in range(env.partitions)]
        return {tp.partition: int(n) for tp, n in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def test_log_truncated_below_the_snapshot_is_counted_and_logged(
        env: Env, workers: list[Worker]) -> None:
    """Retention shorter than an outage, played with delete_records: messages produced
    while no worker ran are deleted from one partition before anyone read them. The
    restarted worker must say so on /metrics and in its log, not skip them silently."""
    assert env.run("topics", "create").returncode == 0
    reports = env.topic("reports")
    first = env.tmp / "first.jsonl"
    first.write_bytes(_reports(range(300)))
    env.produce(first)
    w1 = _start(workers, Worker(env, "t1"))
    wait_until(lambda: metric_sum(w1.metrics(), "harmwatch_events_total",
                                  outcome="counted") >= 300, 120, "300 counted events")
    time.sleep(3)  # a periodic snapshot (every half second) now covers all 300
    w1.kill()
    before = _end_offsets(env, reports)
    second = env.tmp / "second.jsonl"
    second.write_bytes(_reports(range(300, 400)))
    env.produce(second)
    after = _end_offsets(env, reports)
    assert sum(after.values()) - sum(before.values()) == 100
    part = max(after, key=lambda p: after[p] - before[p])
    lost = after[part] - before[part]
    assert lost > 0
    admin = KafkaAdminClient(bootstrap_servers=env.broker)
    try:
        admin.delete_records({TopicPartition(reports, part): after[part]})
    finally:
        admin.close()

    w2 = _start(workers, Worker(env, "t2"))
    metrics = wait_until(lambda: (m := w2.metrics()) and metric_sum(
        m, "harmwatch_events_total", outcome="counted") >= 100 - lost and m, 120,
        f"{100 - lost} counted events after the restart")
    time.sleep(2)  # nothing more may come
    metrics = w2.metrics()
    assert metric_sum(metrics, "harmwatch_events_total", outcome="counted") == 100 - lost
    name = "harmwatch_log_truncated_messages_total"
    assert metric_sum(metrics, name, topic=reports, partition=str(part)) == lost
    assert metric_sum(metrics, name) == lost
    warnings = [x for x in w2.stderr.splitlines() if "log truncated" in x]
    assert len(warnings) == 1, w2.stderr[-3000:]
    assert f"{reports}:{part}" in warnings[0] and f"{lost} messages" in warnings[0]
    assert '"r3' not in warnings[0] and "event_id" not in warnings[0]  # no ids in logs


def test_recreated_topic_below_the_snapshot_is_counted_and_logged(
        env: Env, workers: list[Worker]) -> None:
    """A source topic deleted and created again while no worker ran: the new log's
    offsets restart at 0, below what the snapshots cover, and its messages there are
    skipped as already counted. The worker must count them as lost and say so."""
    assert env.run("topics", "create").returncode == 0
    reports = env.topic("reports")
    first = env.tmp / "first.jsonl"
    first.write_bytes(_reports(range(300)))
    env.produce(first)
    w1 = _start(workers, Worker(env, "c1"))
    wait_until(lambda: metric_sum(w1.metrics(), "harmwatch_events_total",
                                  outcome="counted") >= 300, 120, "300 counted events")
    time.sleep(3)  # a periodic snapshot (every half second) now covers all 300
    w1.kill()
    covered = _end_offsets(env, reports)  # w1 processed every message
    admin = KafkaAdminClient(bootstrap_servers=env.broker)
    try:
        admin.delete_topics([reports])
        wait_until(lambda: reports not in admin.list_topics(), 60, f"{reports} deleted")
    finally:
        admin.close()
    wait_until(lambda: env.run("topics", "create").returncode == 0, 60, "topics re-created")
    second = env.tmp / "second.jsonl"
    second.write_bytes(_reports(range(300, 330)))
    env.produce(second)
    new_end = _end_offsets(env, reports)
    assert sum(new_end.values()) == 30
    lost = sum(min(new_end[p], covered[p]) for p in new_end)
    assert lost > 0

    w2 = _start(workers, Worker(env, "c2"))
    name = "harmwatch_log_truncated_messages_total"
    metrics = wait_until(lambda: (m := w2.metrics()) and metric_sum(m, name) >= lost and m,
                         120, f"{lost} truncated messages on /metrics")
    time.sleep(2)
    metrics = w2.metrics()
    assert metric_sum(metrics, name) == lost
    for p in new_end:
        assert metric_sum(metrics, name, topic=reports, partition=str(p)) == min(
            new_end[p], covered[p])
    assert metric_sum(metrics, "harmwatch_events_total", outcome="counted") == 30 - lost
    warnings = [x for x in w2.stderr.splitlines() if "log truncated" in x]
    assert warnings and all("re-created topic" in x for x in warnings), w2.stderr[-3000:]


def test_sigkill_one_of_two_workers_loses_and_doubles_nothing(
        env: Env, events_file: Path, workers: list[Worker]) -> None:
    expected, _ = backtest(env, events_file)
    created = env.run("topics", "create")
    assert created.returncode == 0, created.stderr
    a = _start(workers, Worker(env, "a"))
    b = _start(workers, Worker(env, "b"))
    wait_until(lambda: a.metrics() and b.metrics(), 90, "both workers serving /metrics")
    producer = env.produce_async(events_file, "--rate", "3000", "--final-watermark")
    try:
        def b_counted() -> bool:
            return metric_sum(b.metrics(), "harmwatch_events_total") > 2000

        try:
            wait_until(b_counted, 120, "worker b to count events")
        except AssertionError as exc:
            produced = "running" if producer.poll() is None else (
                f"exited {producer.returncode}: "
                f"{producer.stderr.read()[-2000:] if producer.stderr else ''}")
            raise AssertionError(
                f"{exc}; producer {produced}; counted a={_counted(a)} b={_counted(b)}"
            ) from exc
        b_last = b.metrics()  # its last scrape: what Prometheus would keep of it
        b.kill()
        assert b.proc is not None and b.proc.returncode == -signal.SIGKILL
        b2 = _start(workers, Worker(env, "b2"))
        assert producer.wait(timeout=240) == 0, producer.stderr.read() if producer.stderr else ""
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
    got = _wait_rows([a, b, b2], expected, timeout=240)
    assert got == expected
    metrics = a.metrics() + b2.metrics()
    assert metric_sum(metrics, "harmwatch_merge_late_panes_total") == 0
    # Counters, summed over every process that ran, equal the file: b's re-read part is
    # exported by b2 only (before: counted by both, so the sum stayed above the truth).
    truth = _file_counts(events_file)

    def summed() -> dict[str, float]:
        now = b_last + a.metrics() + b2.metrics()
        return {**{o: metric_sum(now, "harmwatch_events_total", outcome=o)
                   for o in ("counted", "duplicate", "late")},
                "invalid": metric_sum(now, "harmwatch_invalid_events_total")}

    wait_until(lambda: summed() == truth, 60,
               f"counters summed over a, b (last scrape) and b2 to equal {truth}")
    time.sleep(3)  # and they stay there
    assert summed() == truth


def _file_counts(events: Path) -> dict[str, float]:
    """Counted / duplicate / late / invalid of a file without late events, by hand:
    every valid id once, every further copy a duplicate, every rejected line invalid."""
    lines = [x for x in events.read_bytes().splitlines() if x.strip()]
    decoded = [decode_event(x) for x in lines]
    valid = [e for e in decoded if not isinstance(e, Rejected)]
    ids = {e.event_id for e in valid}
    return {"counted": float(len(ids)), "duplicate": float(len(valid) - len(ids)),
            "late": 0.0, "invalid": float(len(decoded) - len(valid))}


def _counted(w: Worker) -> str:
    """For a failure message: the worker's events counter, or why there is none."""
    try:
        return f"{metric_sum(w.metrics(), 'harmwatch_events_total'):.0f}"
    except MetricNotExposed as exc:
        return str(exc)


def test_broker_restart_mid_stream_loses_nothing(
        kafka_broker: LocalKafka, env: Env, events_file: Path, workers: list[Worker]) -> None:
    expected, _ = backtest(env, events_file)
    lines = events_file.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = env.tmp / "first.jsonl", env.tmp / "second.jsonl"
    first.write_bytes(b"".join(lines[:half]))
    second.write_bytes(b"".join(lines[half:]))
    w = _start(workers, Worker(env, "w"))
    wait_until(w.metrics, 90, "the worker serving /metrics (it creates the topics)")
    env.produce(first)
    wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total") > half * 0.9, 120,
               "the worker to count the first half")
    kafka_broker.stop()
    time.sleep(1)  # the worker sees the broker gone (a fixed pause here is the point)
    kafka_broker.start(timeout=120)
    assert w.alive(), w.stderr[-3000:]
    env.produce(second, "--final-watermark")
    got = _wait_rows([w], expected, timeout=240)
    assert got == expected
    assert w.alive()


def test_worker_without_broker_prints_one_line_per_retry(env: Env, tmp_path: Path) -> None:
    port = free_port()
    w = Worker(env, "nobroker", "--broker", f"127.0.0.1:{port}", "--give-up-after", "6")
    w.start()
    try:
        assert w.proc is not None
        code = w.proc.wait(timeout=60)
    finally:
        w.stop()
    err = w.stderr
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 1
    assert "Traceback" not in err
    retries = [x for x in lines if x == f"harmwatch worker: Kafka broker at 127.0.0.1:{port} "
               f"not reachable; retrying in {x.rsplit(' ', 1)[1]}"]
    assert [x.rsplit(" ", 1)[1] for x in retries] == ["1s", "2s"]  # backoff doubles
    assert lines[-1].endswith("giving up") and len(lines) == 3, lines


def _quiet_split(events: Path, tmp: Path, partitions: int) -> tuple[Path, Path, Path, float]:
    """The file cut at 20 minutes into A and B, with one reports partition silent from
    minute 5 to the cut (its events there removed from both): that partition is quiet for
    the rest of A while the others flow. Returns A, B, A + B and the start."""
    lines = [x for x in events.read_bytes().splitlines() if x.strip()]
    valid = [e for x in lines if not isinstance(e := decode_event(x), Rejected)]
    start = min(e.occurred_at.timestamp() for e in valid)
    start -= start % 60
    reports = [e for e in valid if type(e).__name__ == "Report"]
    quiet = partition_of(reports[0].event_id.encode(), partitions)
    first: list[bytes] = []
    second: list[bytes] = []
    for raw in lines:
        event = decode_event(raw)
        if isinstance(event, Rejected):
            first.append(raw)
            continue
        at = event.occurred_at.timestamp() - start
        if at >= 20 * 60:
            second.append(raw)
        elif not (at >= 5 * 60 and type(event).__name__ == "Report"
                  and partition_of(event.event_id.encode(), partitions) == quiet):
            first.append(raw)
    paths = tmp / "a.jsonl", tmp / "b.jsonl", tmp / "ab.jsonl"
    paths[0].write_bytes(b"\n".join(first) + b"\n")
    paths[1].write_bytes(b"\n".join(second) + b"\n")
    paths[2].write_bytes(b"\n".join(first + second) + b"\n")
    return *paths, start


def test_a_quiet_partition_does_not_stall_the_merge_and_loses_nothing(
        env: Env, events_file: Path, workers: list[Worker]) -> None:
    """One reports partition has no message for 15 minutes of event time (far longer than
    the 2 s idle timeout at the producer's speed) while the others flow. The worker writes
    watermark records into it, so the windows after minute 5 close before any more input
    comes (without them the merge waits at that partition's frontier); and after the rest
    of the file, its rows equal ``backtest --partitions`` of the same input."""
    a, b, whole, start = _quiet_split(events_file, env.tmp, env.partitions)
    signals = env.tmp / "backtest-partitioned.jsonl"
    done = env.run("backtest", "--events", str(whole), "--partitions", str(env.partitions),
                   "--format", "jsonl", "--signals-out", str(signals))
    assert done.returncode == 0, done.stderr
    expected = dedupe_rows(read_jsonl(signals))
    assert env.run("topics", "create").returncode == 0
    w = _start(workers, Worker(env, "idle", "--idle-after", "2"))
    env.produce(a)

    # Every window ending by minute 17 (the cut, less lateness and a margin) must close
    # while no more input comes.
    cut = dt.datetime.fromtimestamp(start + 17 * 60, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    early = {k: r for k, r in expected.items() if r["window_end"] <= cut}
    assert len(early) > 500

    def closed_early() -> dict[tuple[Any, ...], dict[str, Any]] | None:
        assert w.alive(), w.stderr[-3000:]
        got = {k: r for k, r in _all_rows([w]).items() if k in early}
        return got if len(got) == len(early) else None

    assert wait_until(closed_early, 120, f"the {len(early)} windows up to {cut}") == early
    assert "watermark record" in w.stderr

    env.produce(b, "--final-watermark")
    got = _wait_rows([w], expected, timeout=180)
    assert got == expected
    metrics = w.metrics()
    assert metric_sum(metrics, "harmwatch_merge_late_panes_total") == 0
    lines = [x for x in whole.read_bytes().splitlines() if x.strip()]
    valid_ids = {e.event_id for x in lines if not isinstance(e := decode_event(x), Rejected)}
    # Counts reach /metrics with the snapshot covering them (about a second later).
    wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total", outcome="counted")
               >= len(valid_ids), 60, f"{len(valid_ids)} counted events")
    assert metric_sum(w.metrics(), "harmwatch_events_total",
                      outcome="counted") == len(valid_ids)


def _audit(w: Worker) -> list[dict[str, Any]]:
    return read_jsonl(w.audit_log)


def test_worker_reloads_thresholds_and_audits_a_good_and_a_broken_file(
        env: Env, workers: list[Worker]) -> None:
    """#11 item 3: the running worker takes a changed level, refuses a broken file (the
    last good config stays) and logs one audit line for each; it keeps counting."""
    conf = env.tmp / "config"
    conf.mkdir()
    for name in ("thresholds.yaml", "policy_areas.yaml", "controls.yaml"):
        shutil.copy(REPO / "config" / name, conf / name)
    thresholds = conf / "thresholds.yaml"
    text = thresholds.read_text()
    level = "      warn: 3\n      critical: 4\n"  # youth_safety's minor_exposure override
    assert text.count(level) == 1
    assert env.run("topics", "create").returncode == 0
    w = _start(workers, Worker(env, "reload", "--config", str(thresholds)))
    start = wait_until(lambda: _audit(w), 90, "the audit line of the config at start")
    assert [r["trigger"] for r in start] == ["start"] and start[0]["event"] == "accepted"
    first = start[0]["digest"]

    thresholds.write_text(text.replace(level, level.replace("4", "5")))
    lines = wait_until(lambda: len(a := _audit(w)) >= 2 and a, 30, "the reload's audit line")
    reload = lines[1]
    assert (reload["event"], reload["trigger"], reload["previous_digest"]) == (
        "accepted", "reload", first)
    assert reload["changes"] == [{"field": "areas.youth_safety.minor_exposure.critical",
                                  "old": 4.0, "new": 5.0}]

    def threshold_shown() -> bool:
        return metric_sum(w.metrics(), "harmwatch_signal_threshold", signal="minor_exposure",
                          severity="critical", policy_area="youth_safety") == 5

    wait_until(threshold_shown, 30, "/metrics showing the new level")

    time.sleep(1.1)  # a new mtime on filesystems with one-second resolution
    thresholds.write_text(text.replace(level, level.replace("4", "lots")))
    lines = wait_until(lambda: len(a := _audit(w)) >= 3 and a, 30, "the refusal's audit line")
    refused = lines[2]
    assert refused["event"] == "refused" and refused["in_force"] == reload["digest"]
    assert "thresholds.yaml" in refused["reason"] and "critical" in refused["reason"]
    assert "config refused" in w.stderr
    assert w.alive(), w.stderr[-3000:]

    events = env.tmp / "reports.jsonl"
    events.write_bytes(_reports(range(50)))
    env.produce(events)
    wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total",
                                  outcome="counted") == 50, 60, "50 counted events")
    assert metric_sum(w.metrics(), "harmwatch_signal_threshold", signal="minor_exposure",
                      severity="critical", policy_area="youth_safety") == 5
    assert len(_audit(w)) == 3 and w.alive()


def test_a_worker_whose_state_exceeds_the_snapshot_bound_keeps_running_and_counting(
        env: Env, workers: list[Worker]) -> None:
    """#9 item 8: with ``snapshot_max_bytes`` below what an area's state takes, every merge
    snapshot is refused: counted on /metrics, logged without ids, and the worker neither
    crashes nor stops counting (before the bound, an oversized record crashed the producer
    and the worker, and every restart rebuilt the same state)."""
    kafka_config = env.tmp / "kafka.yaml"
    kafka_config.write_text("kafka:\n  snapshot_max_bytes: 2048\n  idle_after_s: 0\n")
    assert env.run("topics", "create").returncode == 0
    w = _start(workers, Worker(env, "bound", "--kafka-config", str(kafka_config)))
    first = env.tmp / "first.jsonl"
    first.write_bytes(_reports(range(200)))
    env.produce(first, "--final-watermark")

    def refused() -> float:
        return metric_sum(w.metrics(), "harmwatch_snapshots_refused_total",
                          table="merge-state")

    wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total",
                                  outcome="counted") == 200, 120, "200 counted events")
    before = wait_until(refused, 30, "a refused merge snapshot")
    second = env.tmp / "second.jsonl"
    second.write_bytes(_reports(range(300, 400)))  # after the first file's watermark
    env.produce(second, "--final-watermark")
    wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total",
                                  outcome="counted") == 300, 60, "300 counted events")
    wait_until(lambda: refused() > before, 30, "more refused snapshots")
    assert w.alive(), w.stderr[-3000:]
    lines = [x for x in w.stderr.splitlines() if "previous snapshot stays in force" in x]
    assert lines and all("over the 2048-byte record limit" in x for x in lines)
    assert not any('"r' in x or "event_id" in x for x in lines)  # no ids in the log
    assert "Traceback" not in w.stderr
