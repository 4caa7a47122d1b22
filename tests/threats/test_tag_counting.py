"""The hot loop's tag counting and the emerging detector's candidate search, against counts
worked out independently (a naive count in the test, or by hand)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from signals.counts import Counts
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.ingest import Ingest
from signals.tags import TagSpec
from signals.threats_config import parse_threats
from tests.helpers import T0, ev, line, make_config

CONFIG = make_config({"report_volume": {"window": "5m", "critical": 10**9}})


def _ingest(spec: TagSpec, events: list[dict[str, Any]]) -> dict[str, Counts]:
    closed: dict[str, Counts] = {}
    ingest = Ingest(CONFIG, on_close=lambda _p, bucket, _u: closed.update(
        (area, c) for (area, market), c in bucket.items() if market is None), threats=spec)
    batch = []
    for e in events:
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected), decoded
        batch.append(decoded)
    ingest.ingest_batch(batch)
    ingest.flush()
    return closed


def _values(spec: TagSpec, events: list[dict[str, Any]]) -> list[Counts]:
    return list(_ingest(spec, events).values())


def test_only_the_configured_streams_are_counted_each_under_its_own_name() -> None:
    events = [ev("report", 1, tags=["a", "b"]), ev("decision", 2, tags=["a"]),
              ev("appeal", 3, tags=["a"]), ev("report", 4, tags=["a"]),
              ev("decision", 5, tags=["c", "a"])]
    [both] = _values(TagSpec(cap=10, streams=("report", "decision"), measures=(),
                             automated=False), events)
    assert both.to_dict().get("tags") == {"report": {"a": 2, "b": 1}, "decision": {"a": 2, "c": 1}}
    [reports] = _values(TagSpec(cap=10, streams=("report",), measures=(), automated=False),
                        events)
    assert reports.to_dict().get("tags") == {"report": {"a": 2, "b": 1}}
    [appeals] = _values(TagSpec(cap=10, streams=("appeal",), measures=(), automated=False),
                        events)
    assert appeals.to_dict().get("tags") == {"appeal": {"a": 1}}


def test_pane_counts_equal_a_naive_count_with_the_cap_applied_in_arrival_order() -> None:
    # Random traffic over two areas and a cap that bites: the pane's dict must equal a
    # count done here, tag by tag in arrival order, keeping the first `cap` distinct.
    rng = random.Random(12)
    cap = 40
    events = []
    for i in range(3000):
        kind = rng.choice(["report", "decision"])
        tags = [f"t{int(rng.paretovariate(1.1))}" for _ in range(rng.randint(0, 3))]
        events.append(ev(kind, 1 + i * 0.019, area=rng.choice(["youth_safety", "scams_fraud"]),
                         tags=tags))
    closed = _ingest(TagSpec(cap=cap, streams=("report", "decision"), measures=(),
                             automated=False), events)
    # One pane (57 s), two keys: scams_fraud is not in this config, so it counts as "other".
    key_of = {"youth_safety": "youth_safety", "scams_fraud": "other"}
    assert sorted(closed) == ["other", "youth_safety"]
    for area, counts in closed.items():
        naive: dict[str, Counter[str]] = {}
        overflow = 0
        for e in (e for e in events if key_of[e["policy_area"]] == area):
            kept = naive.setdefault(e["type"], Counter())
            for tag in e["tags"]:
                if tag in kept or len(kept) < cap:
                    kept[tag] += 1
                else:
                    overflow += 1
        assert counts.to_dict().get("tags") == {k: dict(v) for k, v in naive.items() if v}
        assert counts.overflow == overflow
        assert overflow > 0  # the cap did bite


def test_a_tag_spread_thinly_over_the_window_is_found_when_one_pane_is_enough() -> None:
    # min_count 4 over a 5-pane window: a tag with 4 in the window may have 1 per pane, so
    # every tag of the window is a candidate. "thin": once a minute from minute 40, never
    # twice in a pane: 5 in the window 40-45 (minutes 40 to 44), never seen before:
    # floor 1, level 2 x 1 = 2 <= 5, fires at 45. "steady" (1 a minute, 5 per window)
    # never reaches 2 x its own 5.
    small = {"emerging": {"window": "5m", "step": "5m", "baseline": "1h", "block": "30m",
                          "min_baseline": "30m", "min_count": 4, "ratio": 2.0,
                          "expected_floor": 1.0, "clear_ratio": 1.5, "top_k": 1},
             "concentration": {"enabled": False}, "drops": {"enabled": False}}
    events = [ev("report", m * 60 + 30, tags=["steady"]) for m in range(60)]
    events += [ev("report", m * 60 + 31, tags=["thin"]) for m in range(40, 60)]
    engine = Engine(CONFIG, parse_threats(small, "t.yaml"))
    for e in sorted(events, key=lambda e: str(e["occurred_at"])):
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected)
        engine.ingest.ingest(decoded)
    engine.flush()
    assert engine.threats is not None
    found = [(e.started_at, e.peak_value, e.threshold) for e in engine.threats.episodes]
    assert found == [(T0.replace(minute=45), 5, 2)]
