"""``backtest --from-kafka``'s replay of the partition logs (issue #9, chaos seed 17).

A worker reads what a file backtest cannot see: the watermark records its idle check
wrote into quiet partitions, and each record's Kafka timestamp. The replay of the logs
must judge both as the worker does; without them it must equal the file backtest.
"""

from __future__ import annotations

from pathlib import Path

from signals.admission import MAX_FUTURE_S
from signals.config import Config
from signals.events import Rejected, decode_event
from signals.pane_messages import watermark_headers
from signals.records import SignalRow
from streams.backtest.log_replay import LogRecord, replay_logs
from streams.backtest.partitioned import partition_of, run_partitioned, sources
from streams.config_files import load_config
from tests.helpers import T0, ev, line
from tests.streaming.test_merge import _sim_lines

PANE = 60


def _mark(offset: int, at: float) -> LogRecord:
    return LogRecord(offset, b"", 0.0, watermark_headers(at)[0][1])


def _routed(lines: list[bytes], partitions: int) -> dict[str, list[LogRecord]]:
    """The file as `produce` would have written it: each line to its partition, sent at
    its own event time, then a final watermark record (`--final-watermark`) per
    partition."""
    logs: dict[str, list[LogRecord]] = {s: [] for s in sources(partitions)}
    newest = float("-inf")
    for raw in lines:
        event = decode_event(raw)
        if isinstance(event, Rejected):
            continue  # the file backtest rejects them before routing: no source to put them in
        at = event.occurred_at.timestamp()
        newest = max(newest, at)
        src = f"{type(event).__name__.lower()}:{partition_of(event.event_id.encode(), partitions)}"
        logs[src].append(LogRecord(len(logs[src]), raw, at))
    end = (int(newest // PANE) + 1) * PANE
    for records in logs.values():
        records.append(_mark(len(records), end))
    return logs


def _streams(partitions: int) -> dict[str, str]:
    return {s: s.split(":")[0] for s in sources(partitions)}


def _counts(pipeline: object) -> tuple[int, int, int]:
    ingest = pipeline.engine.ingest  # type: ignore[attr-defined]
    return ingest.counted, ingest.duplicates, ingest.late


def test_logs_without_idle_records_equal_the_file_backtest(tmp_path: Path) -> None:
    config = load_config()
    lines = [raw for raw in _sim_lines(40) if not isinstance(decode_event(raw), Rejected)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    want_rows: list[SignalRow] = []
    want = run_partitioned(config, events, 3, keep_rows=want_rows)
    logs = _routed(lines, 3)
    # One run per partition, the partitions one after another: the order of the runs
    # must not matter either.
    got_rows: list[SignalRow] = []
    got = replay_logs(config, _streams(3), list(logs.items())[::-1], keep_rows=got_rows)
    assert _counts(got) == _counts(want)
    assert _counts(got)[0] > 10_000 and _counts(got)[1] > 0  # the test has teeth
    assert sorted(map(repr, got_rows)) == sorted(map(repr, want_rows))
    assert [repr(e) for e in got.engine.evaluator.episodes] == [
        repr(e) for e in want.engine.evaluator.episodes]


def _one_partition(config: Config, records: list[LogRecord]) -> tuple[int, int, int, int]:
    streams = {"appeal:0": "appeal", "decision:0": "decision", "report:0": "report"}
    pipeline = replay_logs(config, streams, [("appeal:0", records)])
    return (*_counts(pipeline), pipeline.invalid_total)


def test_an_event_behind_a_watermark_record_is_late_as_in_the_worker() -> None:
    """The seed-17 case: a partition quiet since 100 s gets the group's watermark (300 s);
    an appeal of 250 s read after it is late, though its own partition's watermark
    (newest 100 s - 60 s lateness) would have counted it, as the file backtest does."""
    config = load_config()
    assert config.pane_s == PANE and config.engine.allowed_lateness_s == 60
    t0 = T0.timestamp()

    def appeal(offset: int, at: float) -> LogRecord:
        return LogRecord(offset, line(ev("appeal", at, area="adult_nudity")), t0 + at)

    without = [appeal(0, 30), appeal(1, 100), appeal(2, 250)]
    assert _one_partition(config, without) == (3, 0, 0, 0)
    behind = [appeal(0, 30), appeal(1, 100), _mark(2, t0 + 300), appeal(3, 250)]
    assert _one_partition(config, behind) == (2, 0, 1, 0)
    # A record that carries no number moves nothing (the worker skips it too).
    bad = [appeal(0, 30), appeal(1, 100), LogRecord(2, b"", 0.0, b"soon"), appeal(3, 250)]
    assert _one_partition(config, bad) == (3, 0, 0, 0)


def test_the_future_guard_judges_each_record_by_its_own_timestamp() -> None:
    config = load_config()
    t0 = T0.timestamp()
    at = 100.0
    sent_ok = t0 + at - MAX_FUTURE_S + 1  # the event 599 s ahead of its send time
    sent_early = t0 + at - MAX_FUTURE_S - 1  # 601 s ahead: rejected
    records = [LogRecord(0, line(ev("appeal", at)), sent_ok),
               LogRecord(1, line(ev("appeal", at)), sent_early)]
    assert _one_partition(config, records) == (1, 0, 0, 1)
