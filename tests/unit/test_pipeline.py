"""The shared decode-and-count path: counters, rejects, the future-timestamp guard."""

from __future__ import annotations

from signals.events import Rejected
from signals.pipeline import Pipeline
from tests.helpers import T0, ev, line, make_config

CONFIG = make_config({"report_volume": {"window": "1m", "warn": 100}})


def test_counters_by_stream_area_and_outcome() -> None:
    rejected: list[tuple[str, bytes]] = []
    p = Pipeline(CONFIG, on_reject=lambda r, raw: rejected.append((r.reason, raw)))
    p.feed(line(ev("report", 1, "body_image", eid="a")), "report")
    p.feed(line(ev("report", 2, "body_image", eid="a")), "report")
    p.feed(line(ev("decision", 3, "nowhere")), "decision")
    p.feed(b"{oops", "report")
    assert p.events == {("report", "body_image", "counted"): 1,
                        ("report", "body_image", "duplicate"): 1,
                        ("decision", "other", "counted"): 1}
    assert p.invalid == {("report", "not_json"): 1}
    assert rejected == [("not_json", b"{oops")]


def test_future_dated_events_are_rejected_in_live_modes() -> None:
    now = T0.timestamp()
    p = Pipeline(CONFIG, max_future_s=600, clock=lambda: now)
    assert p.feed(line(ev("report", 599))) == "counted"
    result = p.feed(line(ev("report", 86400 * 365, eid="next-year")))
    assert isinstance(result, Rejected)
    assert result.reason == "future_timestamp:occurred_at" and result.event_id == "next-year"
    # The bogus event did not move the watermark: a normal neighbour is still on time.
    assert p.feed(line(ev("report", 570))) == "counted"
    assert p.engine.ingest.late == 0
