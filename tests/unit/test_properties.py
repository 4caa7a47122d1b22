"""Hypothesis properties: windows, lateness, dedupe and out-of-order input."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signals.engine import Engine
from signals.evaluator import Evaluator
from signals.events import Rejected, decode_event
from signals.ingest import Ingest
from tests.helpers import ev, line, make_config, run_engine

LATENESS = 60
PANE = 60
CONFIG = make_config(
    {"report_volume": {"window": "3m", "step": "1m", "warn": 1e9},
     "violation_rate": {"window": "2m", "warn": 2.0},
     "review_latency_p95": {"window": "4m", "step": "2m", "warn": 1e9}},
    lateness=f"{LATENESS}s")
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

event_st = st.builds(
    lambda kind, at, area, verdict, waited: ev(
        kind, at, area,
        **({"verdict": verdict, "reported_at": None} if kind == "decision" else {})
    ) | ({"reported_at": ev("report", at - waited)["occurred_at"]}
         if kind == "decision" else {}),
    st.sampled_from(("report", "decision")),
    st.floats(0, 1800, allow_nan=False),
    st.sampled_from(("youth_safety", "body_image", "unknown_area")),
    st.sampled_from(("violating", "non_violating", "escalated")),
    st.floats(0, 3600, allow_nan=False),
)


def _ts(e: dict[str, Any]) -> float:
    decoded = decode_event(line(e))
    assert not isinstance(decoded, Rejected)
    return decoded.occurred_at.timestamp()


def _rows(config: Any, events: list[dict[str, Any]]) -> list[Any]:
    rows, _, _ = run_engine(config, events)
    return sorted(rows, key=lambda r: (r.signal, r.policy_area, r.window_start))


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=150), st.randoms(use_true_random=False))
def test_out_of_order_within_lateness_changes_nothing(events: list[dict[str, Any]],
                                                       rnd: random.Random) -> None:
    in_order = sorted(events, key=_ts)
    # Each event arrives up to (not including) the lateness after its event time.
    shuffled = sorted(events, key=lambda e: _ts(e) + rnd.uniform(0, LATENESS - 1e-3))
    assert _rows(CONFIG, shuffled) == _rows(CONFIG, in_order)


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=120), st.randoms(use_true_random=False))
def test_redelivered_event_ids_count_once(events: list[dict[str, Any]],
                                          rnd: random.Random) -> None:
    in_order = sorted(events, key=_ts)
    dups = [dict(e) for e in rnd.sample(in_order, k=max(1, len(in_order) // 3))]
    arrivals = sorted([(_ts(e), 0, i, e) for i, e in enumerate(in_order)]
                      + [(_ts(e) + rnd.uniform(0, LATENESS - 1e-3), 1, i, e)
                         for i, e in enumerate(dups)], key=lambda x: x[:3])
    rows, _, engine = run_engine(CONFIG, [a[3] for a in arrivals])
    assert engine.ingest.duplicates == len(dups)
    assert engine.ingest.counted == len(in_order)
    assert sorted(rows, key=lambda r: (r.signal, r.policy_area, r.window_start)) == _rows(
        CONFIG, in_order)


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=150))
def test_lateness_matches_a_watermark_model(events: list[dict[str, Any]]) -> None:
    """Arbitrary order: an event is late iff its pane ended before the watermark's pane
    frontier when it arrived; the rows equal a run over the accepted events only."""
    max_ts, accepted, late = -math.inf, [], 0
    for e in events:
        ts = _ts(e)
        frontier = math.floor((max_ts - LATENESS) / PANE) * PANE if max_ts > -math.inf else None
        if frontier is not None and math.floor(ts / PANE) * PANE < frontier:
            late += 1
            continue
        accepted.append(e)
        max_ts = max(max_ts, ts)
    rows, _, engine = run_engine(CONFIG, events)
    assert engine.ingest.late == late
    assert engine.ingest.counted == len(accepted)
    assert sorted(rows, key=lambda r: (r.signal, r.policy_area, r.window_start)) == _rows(
        CONFIG, sorted(accepted, key=_ts))


@SETTINGS
@given(st.lists(event_st, min_size=2, max_size=150), st.integers(0, 149))
def test_snapshot_and_restore_midway_changes_nothing(events: list[dict[str, Any]],
                                                      cut: int) -> None:
    events = sorted(events, key=_ts)
    cut = cut % len(events)
    whole = run_engine(CONFIG, events)
    first = Engine(CONFIG)
    for e in events[:cut]:
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected)
        first.ingest.ingest(decoded)
    rows_before = first.evaluator.drain_rows()
    second = Engine(CONFIG)
    second.ingest.restore(first.ingest.to_state())
    second.evaluator.restore(first.evaluator.to_state())
    for e in events[cut:]:
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected)
        second.ingest.ingest(decoded)
    second.flush()
    assert rows_before + second.evaluator.drain_rows() == whole[0]
    assert second.evaluator.episodes == whole[1]


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=150), st.integers(2, 6))
def test_partitioned_ingests_merged_equal_one_engine(events: list[dict[str, Any]],
                                                     parts: int) -> None:
    """The streaming layout: one Ingest per partition (keyed by event id), one Evaluator
    that closes a pane only when every partition has passed it."""
    events = sorted(events, key=_ts)
    evaluator = Evaluator(CONFIG)
    frontier: dict[int, float] = {}

    def closer(p: int) -> Any:
        def on_close(pane: int, bucket: Any, closed_until: int) -> None:
            evaluator.add_pane(pane, bucket)
            frontier[p] = closed_until
            if len(frontier) == parts:
                evaluator.close_through(int(min(frontier.values())))
        return on_close

    ingests = [Ingest(CONFIG, on_close=closer(p)) for p in range(parts)]
    for e in events:
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected)
        ingests[hash(decoded.event_id) % parts].ingest(decoded)
    newest = max(i.newest for i in ingests)
    for ingest in ingests:
        ingest.close_through((int(newest // PANE) + 1) * PANE)
    single, _, _ = run_engine(CONFIG, events)
    assert evaluator.drain_rows() == single


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=60), st.integers(3600 * 3, 86400 * 400))
def test_long_gaps_emit_the_same_rows_as_closing_every_window(
        events: list[dict[str, Any]], gap: int) -> None:
    """Past a quiet stretch every window repeats the same zero rows; the engine skips them
    (the other properties show the skipping does not depend on how panes arrive)."""
    events = sorted(events, key=_ts)
    later = [dict(e, event_id=e["event_id"] + "-later",
                  occurred_at=ev("report", _ts(e) - _ts(events[0]) + gap)["occurred_at"])
             for e in events]
    rows, _, engine = run_engine(CONFIG, events + later)
    assert engine.ingest.counted == 2 * len(events)
    # Bounded output: far fewer windows than the gap holds panes.
    starts = {r.window_start for r in rows}
    assert len(starts) < 2 * (1800 + 600) / PANE + 200
    # Both bursts are counted: every report sits in an emitted window that counts it.
    windows = [(r.window_start.timestamp(), r.window_end.timestamp(), r.policy_area)
               for r in rows if r.signal == "report_volume" and r.value]
    for e in events + later:
        if e["type"] == "report":
            area = e["policy_area"] if e["policy_area"] != "unknown_area" else "other"
            assert any(a <= _ts(e) < b and area == where for a, b, where in windows), e


@SETTINGS
@given(st.lists(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=80), min_size=1,
                max_size=10), st.sampled_from((0.5, 0.9, 0.95, 0.99)))
def test_percentile_from_pane_tails_is_exact(parts: list[list[float]], q: float) -> None:
    from signals.definitions import nearest_rank, percentile_tail

    everything = [x for p in parts for x in p]
    tail, n = percentile_tail([list(p) for p in parts], q)
    assert n == len(everything)
    if n:
        keep = n - max(1, math.ceil(q * n)) + 1
        assert sorted(tail)[-keep] == nearest_rank(everything, q)


@SETTINGS
@given(st.lists(event_st, min_size=1, max_size=150), st.randoms(use_true_random=False),
       st.integers(1, 40), st.integers(1, 1000))
def test_batch_tally_matches_one_event_at_a_time(events: list[dict[str, Any]],
                                                 rnd: random.Random, chunk: int,
                                                 max_ids: int) -> None:
    """The (stream, area, outcome) tally of ``ingest_batch`` equals the outcomes of
    ``ingest`` one event at a time, with copies, late events and a dedupe cap."""
    arrivals = events + [dict(e) for e in rnd.sample(events, k=len(events) // 3)]
    rnd.shuffle(arrivals)  # shuffled past the lateness: some events are late
    decoded = [d for e in arrivals if not isinstance(d := decode_event(line(e)), Rejected)]
    capped = dataclasses.replace(
        CONFIG, engine=CONFIG.engine.model_copy(update={"dedupe_max_ids": max_ids}))
    one, batch = Ingest(capped), Ingest(capped)
    expected: dict[tuple[str, str, str], int] = {}
    for d in decoded:
        key = (type(d).__name__.lower(), one.area_of(d.policy_area), one.ingest(d))
        expected[key] = expected.get(key, 0) + 1
    tally: dict[tuple[str, str, str], int] = {}
    for i in range(0, len(decoded), chunk):
        batch.ingest_batch(decoded[i:i + chunk], tally)
    assert tally == expected
    assert (batch.counted, batch.duplicates, batch.late, batch.dedupe_overflow) == (
        one.counted, one.duplicates, one.late, one.dedupe_overflow)
