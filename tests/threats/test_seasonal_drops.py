"""Drops against the seasonal baseline: the same time of day on previous days.

Hand-made reports of one area, one count per minute, with a steep daily cycle (a review
shift that ends): 100 a minute from 08:00 to 20:00 UTC, 8 a minute at night. With the
shipped drop settings (15 m window, 5 m step, ratio 0.2, 2 h trailing baseline, 5 m
seasonal slots) the figures below are worked out by hand:

- a day window holds 15 x 100 = 1500, a night window 15 x 8 = 120; at 20:15 the window is
  all night, 120 against a trailing mean of (22 x 1500 + 1040 + 580) / 24 = 1442.5, whose
  20 % is 288.5: the trailing mean alone pages every evening;
- from the second day the 20:15 slot remembers 120 for that time of day: 120 is the
  reference, and nothing pages;
- reports that stop (0 a minute) page at night (0 <= 0.2 x 120) and at peak
  (0 <= 0.2 x 1500) alike, routed to engineering.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from signals.counts import Counts
from signals.records import Episode
from signals.threat_state import restore, to_state
from signals.threat_types import ENGINEERING
from signals.threats import ROUTES, ThreatDetector
from signals.threats_config import ThreatsConfig
from streams.config_files import load_threats

AREA = "youth_safety"
DAY0 = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)  # midnight UTC
PANE = 60


def _rate(t: dt.datetime, outages: list[tuple[dt.datetime, dt.datetime]]) -> int:
    if any(a <= t < b for a, b in outages):
        return 0
    return 100 if 8 <= t.hour < 20 else 8


def _detector(threats: ThreatsConfig) -> ThreatDetector:
    return ThreatDetector(threats, PANE, [AREA])


Outages = list[tuple[dt.datetime, dt.datetime]]


def _feed(d: ThreatDetector, start: dt.datetime, end: dt.datetime,
          outages: Outages | None = None) -> None:
    t = start
    while t < end:
        counts = Counts()
        counts.reports = _rate(t, outages or [])
        pane = int(t.timestamp())
        d.add_pane(pane, {(AREA, None): counts})
        d.close_through(pane + PANE)
        t += dt.timedelta(seconds=PANE)


def _drops(d: ThreatDetector) -> list[Episode]:
    return [e for e in d.episodes if e.signal == "drop_reports"]


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return DAY0 + dt.timedelta(days=day, hours=hour, minutes=minute)


def _shipped(seasonal: bool) -> ThreatsConfig:
    shipped = load_threats()
    assert shipped.drops.seasonal and shipped.drops.seasonal_slot == 300
    return shipped.model_copy(update={"drops": shipped.drops.model_copy(
        update={"seasonal": seasonal})})


def test_the_nightly_fall_pages_only_without_a_previous_day() -> None:
    # Traffic from 08:00 on day 0 through 23:00 on day 3: four evening falls.
    trailing = _detector(_shipped(seasonal=False))
    _feed(trailing, _at(0, 8), _at(3, 23))
    # The trailing mean alone pages every evening at 20:15 (worked out above).
    assert [e.started_at for e in _drops(trailing)] == [_at(d, 20, 15) for d in range(4)]

    seasonal = _detector(_shipped(seasonal=True))
    _feed(seasonal, _at(0, 8), _at(3, 23))
    found = _drops(seasonal)
    # Day 0 has no previous day: the same page as the trailing mean. It resolves in the
    # morning, when the window is back to at least half its reference (by 08:15, when the
    # window is all day traffic again).
    assert [e.started_at for e in found] == [_at(0, 20, 15)]
    assert found[0].ended_at is not None and found[0].ended_at <= _at(1, 8, 15)
    assert all(e.signal != "drop_reports" or e.started_at < _at(1, 0) for e in seasonal.episodes)


def test_a_stop_pages_at_night_and_at_peak() -> None:
    night = (_at(2, 2), _at(2, 3))
    peak = (_at(2, 14), _at(2, 15))
    d = _detector(_shipped(seasonal=True))
    _feed(d, _at(0, 8), _at(2, 18), [night, peak])
    found = [e for e in _drops(d) if e.started_at >= _at(1, 12)]
    # A window with no report at all first ends 15 minutes into each outage.
    assert [e.started_at for e in found] == [_at(2, 2, 15), _at(2, 14, 15)]
    assert [e.peak_value for e in found] == [0, 0]
    # Night: 20 % of the 120 this time of day had; peak: 20 % of 1500.
    assert [e.threshold for e in found] == [24, 300]
    for e in found:
        assert e.detail is not None and "at this time of day on previous days" in e.detail
        assert e.ended_at is not None and ROUTES[e.signal] == ENGINEERING
    # Resolved at half the reference: 10 minutes after each outage the window holds
    # 10 x 8 = 80 >= 60 (night) and 10 x 100 = 1000 >= 750 (peak); at 5 minutes 40 and 500
    # are still short of it.
    assert found[0].ended_at == _at(2, 3, 10)
    assert found[1].ended_at == _at(2, 15, 10)


def test_the_seasonal_reference_round_trips_through_a_snapshot() -> None:
    threats = _shipped(seasonal=True)
    outage = [(_at(2, 14), _at(2, 15))]
    whole = _detector(threats)
    _feed(whole, _at(0, 8), _at(2, 18), outage)

    first = _detector(threats)
    _feed(first, _at(0, 8), _at(2, 14, 20), outage)  # stopped inside the outage
    assert any(e.ended_at is None for e in first.episodes)
    state = msgspec.json.decode(msgspec.json.encode(to_state(first)))
    second = _detector(threats)
    restore(second, state)
    _feed(second, _at(2, 14, 20), _at(2, 18), outage)
    assert [msgspec.to_builtins(e) for e in second.episodes] == [
        msgspec.to_builtins(e) for e in whole.episodes]
    # The slots themselves survive: the 14:15 slot is judged against the previous days.
    assert "at this time of day" in (second.episodes[-1].detail or "")


def test_closed_episodes_do_not_accumulate_in_snapshots() -> None:
    # An outage of 20 minutes every 2 hours for 3 days: 36 drop episodes, each opened and
    # closed. A snapshot keeps the open ones and the newest ``keep_closed`` closed ones
    # (older ones were emitted when they closed), and the restored detector continues
    # exactly as the one that kept everything.
    threats = _shipped(seasonal=True)
    outages = [(_at(0, 10 + 2 * k), _at(0, 10 + 2 * k, 20)) for k in range(36)]
    whole = _detector(threats)
    _feed(whole, _at(0, 8), _at(3, 9), outages)
    everything = [msgspec.to_builtins(e) for e in whole.episodes]
    assert len(everything) >= 30 and all(e["ended_at"] for e in everything)

    first = _detector(threats)
    _feed(first, _at(0, 8), _at(2, 12, 20), outages)  # inside an outage: one open
    kept = 5
    state = msgspec.json.decode(msgspec.json.encode(to_state(first, keep_closed=kept)))
    assert len(state["episodes"]) == kept + 1
    assert sum(1 for e in state["episodes"] if e["ended_at"] is None) == 1
    assert len(first.episodes) == kept + 1  # the detector itself let go of them too
    second = _detector(threats)
    restore(second, state)
    _feed(second, _at(2, 12, 20), _at(3, 9), outages)
    restored = [msgspec.to_builtins(e) for e in second.episodes]
    # The kept tail (from the newest kept closed episode on) is exactly what never stopped.
    assert restored == everything[-len(restored):]
    assert len(restored) == kept + 1 + (len(everything) - len(
        [e for e in everything if e["started_at"] <= "2026-11-25T12:15:00Z"]))
    # And with the default bound a snapshot never carries more than 500 closed ones.
    many = _detector(threats)
    _feed(many, _at(0, 8), _at(0, 9))
    template = Episode(AREA, None, "drop_reports", "critical", _at(0, 8), _at(0, 8, 5), 0, 1)
    many.episodes.extend(msgspec.structs.replace(template) for _ in range(1200))
    assert len(to_state(many)["episodes"]) == 500


def test_a_stop_pages_once_half_the_trailing_span_is_known_and_not_before() -> None:
    # Traffic from 10:00 (100 a minute); reports stop at 11:10. A window is appended to
    # the trailing history at every 5-minute step, after it was judged. The 11:15 window
    # holds 1000, 11:20 500, 11:25 nothing: the first page, judged against the 16 windows
    # ending 10:05 to 11:20 (past half the 2 h span, 12): 500 (10:05, five minutes of
    # traffic), 1000, twelve of 1500, then 1000 and 500: 21,000 / 16 = 1312.5, whose 20 %
    # is 262.5. (The old code waited for the whole 2 h and did not page here at all.)
    d = _detector(_shipped(seasonal=True))
    _feed(d, _at(0, 10), _at(0, 13), [(_at(0, 11, 10), _at(0, 11, 40))])
    found = _drops(d)
    assert [e.started_at for e in found] == [_at(0, 11, 25)]
    assert found[0].peak_value == 0 and ROUTES[found[0].signal] == ENGINEERING
    assert abs(found[0].threshold - 0.2 * 21_000 / 16) < 1e-6
    assert found[0].detail is not None
    assert "1312 on average over the previous 1h20m" in found[0].detail

    # A stop 30 minutes after the start: at most 7 windows known, under half the span, so
    # no reference yet, and a cold start does not page.
    cold = _detector(_shipped(seasonal=True))
    _feed(cold, _at(0, 10), _at(0, 11), [(_at(0, 10, 30), _at(0, 10, 50))])
    assert _drops(cold) == []
