"""The fixed matching rule of scored backtests, on hand-built episodes with known answers."""

from __future__ import annotations

import datetime as dt

import pytest

from signals.records import Episode
from streams.backtest.incidents import KnownIncident
from streams.backtest.scoring import score

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
SPAN = (T0 - dt.timedelta(hours=6), T0 + dt.timedelta(hours=6))  # half a day


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def ep(start_min: float, area: str = "youth_safety", signal: str = "minor_exposure",
       severity: str = "critical", market: str | None = None) -> Episode:
    return Episode(area, market, signal, severity, at(start_min), at(start_min + 5), 9, 3)


def inc(start_min: float, end_min: float, area: str = "youth_safety",
        signal: str | None = "minor_exposure", label: str | None = None) -> KnownIncident:
    return KnownIncident(area, at(start_min), at(end_min), signal, label)


def test_exactly_two_minutes_before_the_start_is_caught_one_second_more_is_not() -> None:
    incident = inc(0, 10)
    s = score([ep(-2)], [incident], SPAN)
    assert s.detected == 1 and s.per_incident[0].delay_s == -120.0 and s.false == []
    early = ep(-2 - 1 / 60)
    s = score([early], [incident], SPAN)
    assert s.detected == 0 and s.false == [early]


def test_exactly_twenty_minutes_after_the_end_is_caught_one_second_more_is_not() -> None:
    incident = inc(0, 10)
    s = score([ep(30)], [incident], SPAN)
    assert s.detected == 1 and s.per_incident[0].delay_s == 1800.0
    late = ep(30 + 1 / 60)
    s = score([late], [incident], SPAN)
    assert s.detected == 0 and s.false == [late] and s.to_dict()["missed"] == [
        {"policy_area": "youth_safety", "signal": "minor_exposure", "label": None,
         "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T10:10:00Z"}]


def test_a_named_signal_is_caught_only_by_that_signal_an_area_only_incident_by_any() -> None:
    other_signal = ep(3, signal="violation_rate")
    named = score([other_signal], [inc(0, 10)], SPAN)
    assert named.detected == 0 and named.false == [other_signal]
    area_only = score([other_signal], [inc(0, 10, signal=None)], SPAN)
    assert area_only.detected == 1 and area_only.false == []
    assert area_only.per_incident[0].episode is other_signal


def test_another_area_never_matches_and_a_market_episode_counts_for_its_area() -> None:
    elsewhere = ep(3, area="body_image")
    s = score([elsewhere, ep(4, market="DE")], [inc(0, 10)], SPAN)
    assert s.detected == 1 and s.per_incident[0].delay_s == 240.0
    assert s.false == [elsewhere]


def test_two_incidents_caught_by_one_episode_which_is_not_false() -> None:
    shared = ep(12, signal="report_surge")
    s = score([shared], [inc(0, 10, signal=None, label="a"), inc(5, 15, signal=None, label="b")],
              SPAN)
    assert s.detected == 2 and s.false == []
    assert [r.delay_s for r in s.per_incident] == [720.0, 420.0]
    assert s.median_delay_s == 570.0 and s.max_delay_s == 720.0


def test_the_earliest_episode_of_either_severity_detects_and_later_ones_are_not_false() -> None:
    warn_first = ep(1, severity="warn")
    page = ep(3, severity="critical")
    s = score([page, warn_first], [inc(0, 10)], SPAN)
    assert s.per_incident[0].episode is warn_first and s.per_incident[0].delay_s == 60.0
    assert s.false == [] and s.pages == 1 and s.false_pages == 0


def test_totals_pages_per_day_and_per_rule() -> None:
    episodes = [
        ep(2),                                              # catches incident 1 (delay 2m)
        ep(2, severity="warn"),                             # same incident, not false
        ep(100, severity="critical"),                       # false page
        ep(200, area="body_image", signal="report_surge", severity="warn"),  # false ticket
    ]
    incidents = [inc(0, 10), inc(300, 310, area="adult_nudity", signal="overturn_rate")]
    s = score(episodes, incidents, SPAN)
    doc = s.to_dict()
    assert (doc["incidents"], doc["detected"], doc["false_episodes"]) == (2, 1, 2)
    assert [m["policy_area"] for m in doc["missed"]] == ["adult_nudity"]
    assert doc["median_delay_s"] == 120.0 and doc["max_delay_s"] == 120.0
    assert doc["pages_per_day"] == pytest.approx(2 / 0.5)       # 2 pages in 12 h
    assert doc["false_pages_per_day"] == pytest.approx(1 / 0.5)
    rules = {(r["policy_area"], r["signal"]): r for r in doc["per_rule"]}
    assert rules[("youth_safety", "minor_exposure")] == {
        "policy_area": "youth_safety", "signal": "minor_exposure", "episodes": 3, "pages": 2,
        "false_episodes": 1, "false_pages": 1, "incidents_detected": 1, "pages_per_day": 4.0}
    assert rules[("body_image", "report_surge")]["false_episodes"] == 1
    assert rules[("adult_nudity", "overturn_rate")]["episodes"] == 0  # named, never alerted
    assert [p["detected"] for p in doc["per_incident"]] == [True, False]
    assert doc["per_incident"][0]["episode"]["started_at"] == "2026-11-24T10:02:00Z"


def test_no_episodes_and_no_incidents() -> None:
    s = score([], [], SPAN)
    doc = s.to_dict()
    assert (doc["incidents"], doc["detected"], doc["false_episodes"]) == (0, 0, 0)
    assert doc["median_delay_s"] is None and doc["pages_per_day"] == 0.0
    assert score([], [], (T0, T0)).to_dict()["pages_per_day"] is None  # no time covered
