"""The detectors on small hand-made traffic, with the expected verdicts worked out by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest

from signals.config import ConfigError
from signals.counts import Counts
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.ingest import Ingest
from signals.records import Episode
from signals.tags import TagSpec
from signals.threats_config import ThreatsConfig, parse_threats
from tests.helpers import T0, ev, line, make_config

CONFIG = make_config({"report_volume": {"window": "5m", "critical": 10**9}})
SMALL = {
    "emerging": {"window": "5m", "step": "5m", "baseline": "1h", "block": "30m",
                 "min_baseline": "30m", "min_count": 10, "ratio": 4.0,
                 "expected_floor": 2.0, "clear_ratio": 2.0, "top_k": 2},
    "concentration": {"window": "5m", "step": "5m", "share": 0.5, "clear_share": 0.3,
                      "min_events": 20},
    "drops": {"window": "5m", "step": "5m", "baseline": "30m", "ratio": 0.2,
              "clear_ratio": 0.5, "min_baseline": 20, "measures": ["reports"]},
}


def _run(events: Iterable[dict[str, Any]], threats: ThreatsConfig) -> Engine:
    engine = Engine(CONFIG, threats)
    for e in sorted(events, key=lambda e: str(e["occurred_at"])):
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected), decoded
        engine.ingest.ingest(decoded)
    engine.flush()
    return engine


def _episodes(engine: Engine, signal: str) -> list[Episode]:
    assert engine.threats is not None
    return [e for e in engine.threats.episodes if e.signal == signal]


def _at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def _reports(minutes: range, per_minute: int, **fields: Any) -> list[dict[str, Any]]:
    return [ev("report", m * 60 + 1 + i * (58 / per_minute), **fields)
            for m in minutes for i in range(per_minute)]


def test_a_new_tag_fires_and_a_steady_one_does_not() -> None:
    # "steady": 4 a minute for 90 minutes, 20 per 5-minute window, and 20 expected from
    # its own baseline: ratio 1. "fresh": from minute 60 on, 3 a minute: 15 in the window
    # 60-65, never seen, expected floor 2, level 4 x 2 = 8 <= 15: fires at 65.
    events = _reports(range(90), 4, tags=["steady"]) + _reports(range(60, 90), 3,
                                                                tags=["fresh"])
    engine = _run(events, parse_threats(SMALL, "t.yaml"))
    found = _episodes(engine, "emerging_tag")
    assert [(e.started_at, e.peak_value, e.threshold) for e in found] == [(_at(65), 15, 8)]
    assert found[0].detail is not None
    assert found[0].detail.startswith("tag fresh in youth_safety reports: 15 in the last 5m")
    assert "never seen before" in found[0].detail
    assert engine.threats is not None
    # At the last window end (minute 90): steady 20, fresh 15, both in the top 2.
    assert engine.threats.top_tags("youth_safety") == [("report", "steady", 20),
                                                        ("report", "fresh", 15)]


def test_no_tag_fires_before_the_baseline_has_warmed_up() -> None:
    # The same fresh tag from minute 10: only 5 minutes of baseline exist, 30m are required.
    events = _reports(range(40), 3, tags=["fresh"])
    engine = _run(events, parse_threats(SMALL, "t.yaml"))
    assert _episodes(engine, "emerging_tag") == []


def test_a_pane_keeps_at_most_cap_distinct_tags_and_counts_the_rest() -> None:
    closed: list[Counts] = []
    spec = TagSpec(cap=3, streams=("report",), measures=(), automated=False)
    ingest = Ingest(CONFIG, on_close=lambda _p, bucket, _u: closed.extend(bucket.values()),
                    threats=spec)
    for i in range(5):
        decoded = decode_event(line(ev("report", 1 + i, tags=[f"t{i}", "t0"])))
        assert not isinstance(decoded, Rejected)
        ingest.ingest(decoded)
    ingest.flush()
    [counts] = closed
    # In order: [t0, t0], [t1, t0], [t2, t0], [t3, t0], [t4, t0]; three distinct fit.
    assert counts.to_dict().get("tags") == {"report": {"t0": 6, "t1": 1, "t2": 1}}
    assert counts.overflow == 2  # t3 and t4
    assert Counts.from_dict(counts.to_dict()) == counts


def _ad_decisions(minutes: range, per_minute: int, advertiser: str) -> list[dict[str, Any]]:
    return [ev("decision", m * 60 + 1 + i * (58 / per_minute), area="body_image",
               verdict="violating", surface="ad", advertiser_id=f"{advertiser}-{m}-{i}"
               if advertiser == "many" else advertiser)
            for m in minutes for i in range(per_minute)]


@pytest.mark.parametrize("mode", ["hashed", "full"])
def test_concentration_says_the_share_and_hides_the_id_unless_asked(mode: str) -> None:
    # Minutes 0-30: 6 violations a minute from distinct advertisers. From minute 10 one
    # advertiser adds 4 a minute: window 10-15 has 20 of 50 = 40 % < 50 %; ... so from 15 on
    # make it 9 a minute: window 15-20 has 45 of 75 = 60 % >= 50 %, fires at 20.
    events = (_ad_decisions(range(30), 6, "many") + _ad_decisions(range(10, 15), 4, "acme")
              + _ad_decisions(range(15, 30), 9, "acme"))
    engine = _run(events, parse_threats({**SMALL, "advertiser_ids": mode, "salt": "s"}, "t"))
    found = _episodes(engine, "advertiser_concentration")
    assert [(e.policy_area, e.started_at, e.peak_value) for e in found] == [
        ("body_image", _at(20), 0.6)]
    detail = found[0].detail
    assert detail is not None
    assert detail.startswith("one advertiser accounts for 60 % of violating ads in body_image")
    # sha256("s" + "acme")[:16], computed with `printf sacme | sha256sum`
    assert ("acme" in detail) == (mode == "full")
    assert ("sha256:cbfa6174239977aa" in detail) == (mode == "hashed")


def test_reports_that_vanish_raise_a_drop() -> None:
    # 10 reports a minute for 40 minutes, then none: 50 per window against a 50 mean; the
    # window 40-45 has 0 <= 0.2 x 50: fires at 45, and resolves when reports come back.
    events = _reports(range(40), 10) + _reports(range(60, 70), 10)
    engine = _run(events, parse_threats(SMALL, "t.yaml"))
    found = _episodes(engine, "drop_reports")
    assert [(e.started_at, e.peak_value, e.threshold) for e in found] == [(_at(45), 0, 10)]
    # Back at 10 a minute from minute 60: the window 60-65 holds 50 >= 0.5 x 50.
    assert found[0].ended_at == _at(65)


def test_invalid_config_is_refused_naming_file_and_field() -> None:
    with pytest.raises(ConfigError) as err:
        parse_threats({"emerging": {"ratio": 0.5}}, "config/threats.yaml")
    assert "config/threats.yaml: emerging.ratio:" in str(err.value)
    with pytest.raises(ConfigError) as err:
        Engine(CONFIG, parse_threats({"drops": {"window": "90s"}}, "t.yaml"))
    # CONFIG's only window is 5m, so its pane is 300 s.
    assert "drops.window: 90s is not a whole number of the 300s pane" in str(err.value)
