"""The daily shape of a count rule (signals.seasonal), through the Evaluator.

A market that wakes up every morning (x5 within 30 minutes) pages on day 2 with the trailing
hour alone but not with the shape learned on day 1, and a real surge at that hour still
pages. Expected values are computed here from the traffic's own definition.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from signals.config import ConfigError
from signals.counts import Counts
from signals.evaluator import Evaluator
from signals.keys import Key
from signals.seasonal import Seasonal
from tests.helpers import make_config

DAY = 86_400
MIDNIGHT = 1_795_651_200  # 2026-11-24 00:00 UTC
YOUTH: Key = ("youth_safety", None)


def waking_market(minute_of_day: int) -> int:
    """Reports a minute: 20 at night, a ramp to 100 from 07:00 to 07:30, 20 again from 19:00."""
    if minute_of_day < 420 or minute_of_day >= 1140:
        return 20
    if minute_of_day < 450:
        return round(20 + (minute_of_day - 420) / 30 * 80)
    return 100


def volume_rule(**extra: Any) -> dict[str, Any]:
    return {"mode": "count_surprise", "window": "5m", "step": "1m", "baseline": "1h",
            "min_ratio": 2.0, "warn": 4, "critical": 6, "for": "2m", **extra}


def feed(ev: Evaluator, minute: int, reports: int) -> None:
    c = Counts()
    c.reports = reports
    pane = MIDNIGHT + minute * 60
    ev.add_pane(pane, {YOUTH: c})
    ev.close_through(pane + 60)


def day2_pages(ev: Evaluator) -> list[tuple[str, float]]:
    """(severity, hour of day 2) of the episodes that started on day 2."""
    return [(e.severity, (e.started_at.timestamp() - MIDNIGHT - DAY) / 3600)
            for e in ev.episodes if e.started_at.timestamp() >= MIDNIGHT + DAY]


def two_days(seasonal: bool, surge: bool = False) -> Evaluator:
    ev = Evaluator(make_config({"report_volume": volume_rule(
        **({"seasonal": "1h"} if seasonal else {}))}))
    for minute in range(2 * 1440):
        reports = waking_market(minute % 1440)
        if surge and minute >= 1440 and 460 <= minute % 1440 < 475:
            reports = 300  # a real surge at 07:40 on day 2: 3x the day's level
        feed(ev, minute, reports)
    return ev


def test_a_daily_edge_pages_every_day_with_the_trailing_hour_alone() -> None:
    ev = two_days(seasonal=False)
    pages = [p for p in day2_pages(ev) if p[0] == "critical"]
    assert len(pages) == 1 and 7.0 < pages[0][1] < 7.5  # the edge itself, on day 2 too


def test_the_daily_shape_learned_on_day_one_keeps_day_two_quiet() -> None:
    ev = two_days(seasonal=True)
    # Day 1 had no shape yet: it paged on the edge, as the trailing hour does.
    assert [e.severity for e in ev.episodes] == ["warn", "critical"]
    assert day2_pages(ev) == []


def test_a_real_surge_at_the_same_hour_still_pages() -> None:
    ev = two_days(seasonal=True, surge=True)
    pages = [hour for sev, hour in day2_pages(ev) if sev == "critical"]
    assert len(pages) == 1
    assert 7 + 40 / 60 < pages[0] <= 7 + 45 / 60  # within 5 minutes of its start


def test_expected_count_is_trailing_mean_times_shape_ratio_by_hand() -> None:
    # Tumbling 1m windows (so no window waits to enter), 1h slots, a 1h baseline. Day 1 has
    # c(h) = 10 + 2h reports a minute in hour h; day 2 grows to 1.5 c(h).
    ev = Evaluator(make_config({"report_volume": {
        "mode": "count_surprise", "window": "1m", "baseline": "1h", "min_ratio": 2.0,
        "critical": 6, "seasonal": "1h"}}))

    def c(hour: int) -> int:
        return 10 + 2 * hour

    for minute in range(1440 + 10 * 60 + 30):  # through day 2, 10:29
        day, minute_of_day = divmod(minute, 1440)
        feed(ev, minute, c(minute_of_day // 60) * (3 if day else 2) // 2)
    # The window judged last starts at 10:29 on day 2 (hour 10); the baseline holds the 60
    # windows from 09:29 to 10:28: 31 in hour 9, 29 in hour 10, at day 2's level.
    prior = 0.5 / 60  # half a report per slot-day, over its 60 windows
    trailing_mean = (31 * 1.5 * c(9) + 29 * 1.5 * c(10)) / 60
    shape_now = c(10) + prior
    shape_trailing = (31 * (c(9) + prior) + 29 * (c(10) + prior)) / 60
    judged = ev.judgements[(YOUTH, "report_volume")]
    assert judged.shaped
    assert judged.expected == pytest.approx(trailing_mean * shape_now / shape_trailing,
                                            rel=1e-12)
    # The trailing mean alone says 43.45; day 1's shape scaled to day 2's level gives day 2's
    # own count for hour 10, 45 (to within the half-report prior).
    assert trailing_mean == pytest.approx(43.45)
    assert judged.expected == pytest.approx(45.0, abs=0.01)
    # The tail is taken against the same scaled history: 60 windows holding 60 x expected.
    assert judged.expected is not None
    assert judged.pooled == pytest.approx((60 * judged.expected, 60.0))


def test_without_a_day_of_history_the_trailing_mean_judges_alone() -> None:
    ev = Evaluator(make_config({"report_volume": {
        "mode": "count_surprise", "window": "1m", "baseline": "1h", "min_ratio": 2.0,
        "critical": 6, "seasonal": "1h"}}))
    for minute in range(90):
        feed(ev, minute, 10 + minute % 3)
    judged = ev.judgements[(YOUTH, "report_volume")]
    assert not judged.shaped
    # The 60 windows of minutes 29..88: 20 each of 10, 11 and 12 reports.
    assert judged.expected == pytest.approx(11.0)


def test_days_combine_by_median_so_one_odd_day_does_not_move_the_shape() -> None:
    shape = Seasonal(slot=3600, days=7, step=60, window=60)
    per_day = [10.0, 50.0, 12.0]  # day 2 was odd (an incident filled the slot)
    for day, count in enumerate(per_day):
        for minute in range(60):
            shape.learn(day * DAY + 3 * 3600 + minute * 60 + 60, count)
        for minute in range(60):  # hour 2 of each day: 10 a window
            shape.learn(day * DAY + 2 * 3600 + minute * 60 + 60, 10.0)
    shape.learn(3 * DAY, 0.0)  # the next slot-day closes the last one
    for minute in range(60):  # the trailing hour: hour 2 of day 3
        shape.enter(3 * DAY + 2 * 3600 + minute * 60 + 60)
    prior = 0.5 / 60
    by_day = sorted((count + prior) / (10 + prior) for count in per_day)
    # Hour 3 of day 3 against hour 2: the median of the three days' ratios (1.2), not the
    # ratio of the mean days (2.4).
    assert shape.factor(3 * DAY + 3 * 3600 + 60) == pytest.approx(by_day[1])
    assert by_day[1] == pytest.approx(1.2, abs=1e-3)
    assert shape.factor(3 * DAY + 4 * 3600 + 60) is None  # hour 4 never seen
    # A slot-day with under half its windows fed (the rest excluded) is not a day of it.
    thin = Seasonal(slot=3600, days=7, step=60, window=60)
    for minute in range(29):
        thin.learn(5 * 3600 + minute * 60 + 60, 40.0)
    thin.learn(DAY, 0.0)
    assert thin.means == {}


def test_windows_past_the_shape_do_not_teach_it() -> None:
    ev = two_days(seasonal=True, surge=True)
    shape = ev._baselines[(YOUTH, "report_volume")].seasonal
    assert shape is not None
    hour7 = MIDNIGHT // 3600 + 7
    day1, day2 = shape.means[hour7], shape.means[hour7 + 24]
    # Day 2's 07:00 slot is fed only by windows before the surge (the surge and its alert
    # are left out), so it is the ramp's lower part: under day 1's mean. Had the surge's
    # 300 a minute fed it, it would be far above.
    assert 20 * 5 < day2 < day1


def test_snapshot_round_trip_judges_exactly_the_same() -> None:
    config = make_config({"report_volume": volume_rule(seasonal="1h")})
    whole, first = Evaluator(config), Evaluator(config)
    traffic = [waking_market(m % 1440) if not (1440 + 460 <= m < 1440 + 475) else 300
               for m in range(2 * 1440)]
    cut = 1440 + 400  # 06:40 on day 2, before the edge and the surge
    for minute in range(cut):
        feed(whole, minute, traffic[minute])
        feed(first, minute, traffic[minute])
    state = json.loads(json.dumps(first.to_state()))
    assert "seasonal" in state["baselines"]["youth_safety#report_volume"]
    resumed = Evaluator(config)
    resumed.restore(state)
    for minute in range(cut, len(traffic)):
        feed(whole, minute, traffic[minute])
        feed(resumed, minute, traffic[minute])
    assert resumed.episodes == whole.episodes
    assert [sev for sev, _ in day2_pages(whole)] == ["warn", "critical"]  # the surge
    assert resumed.to_state() == whole.to_state()


@pytest.mark.parametrize(("rule", "message"), [
    (volume_rule(seasonal="7m"),
     "test-thresholds.yaml: defaults.report_volume.seasonal: 7m must divide a day and be a "
     "whole number of steps (1m); use e.g. 30m or 1h"),
    (volume_rule(seasonal_days=3),
     "defaults.report_volume.seasonal_days: only a seasonal rule keeps days"),
    (volume_rule(seasonal="1h", seasonal_days=0),
     "defaults.report_volume.seasonal_days: Input should be greater than or equal to 1"),
    ({"window": "5m", "seasonal": "1h", "critical": 3},
     "defaults.report_volume.seasonal: only relative modes use it"),
    ({"mode": "baseline_ratio", "window": "5m", "baseline": "1h", "critical": 3,
      "seasonal": "1h"},
     "defaults.report_volume.seasonal: only count_surprise keeps a daily shape; remove it"),
])
def test_config_errors_name_file_field_and_fix(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"report_volume": rule})
    assert message in str(err.value)


def test_rules_without_the_option_keep_their_config_digest() -> None:
    plain = make_config({"report_volume": volume_rule()})
    explicit = make_config({"report_volume": volume_rule(seasonal_days=7)})
    seasonal = make_config({"report_volume": volume_rule(seasonal="1h")})
    assert "seasonal" not in plain.rules[("youth_safety", "report_volume")].model_dump(
        mode="json")
    assert plain.digest == explicit.digest != seasonal.digest


def test_a_reload_that_adds_the_shape_keeps_the_trailing_history() -> None:
    ev = Evaluator(make_config({"report_volume": volume_rule()}))
    for minute in range(90):
        feed(ev, minute, 20 + minute % 3)
    before = ev._baselines[(YOUTH, "report_volume")]
    assert before.seasonal is None
    ev.reconfigure(make_config({"report_volume": volume_rule(seasonal="1h")}))
    after = ev._baselines[(YOUTH, "report_volume")]
    assert after.seasonal is not None and after.seasonal.means == {}  # nothing learned yet
    assert list(after.values) == list(before.values) and after.mean() == before.mean()
    # The admitted windows' hours are known, so the shape can weigh them once it has a day.
    assert sum(after.seasonal.in_trailing.values()) == len(after.values)
