"""``baseline_max``: a sparse area's rate baseline pools back until its rate is known.

An hour of 120 decided appeals estimates a 25.6 % overturn share with a standard error of
4 points; random-profile seed 3's hour drew 17 % and the window judged against it paged
noise. The baseline pools older admitted windows, newest first, until the rate's standard
error is a tenth of ``min_lift`` (up to ``baseline_max``); a dense area keeps its hour.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from signals.baselines import Baseline
from signals.config import Config, ConfigError
from signals.evaluator import Evaluator
from signals.judges import trials_needed
from tests.helpers import make_config
from tests.unit.test_relative_rules import YOUTH, counts, feed


def overturn(**extra: Any) -> Config:
    # Tumbling 10m windows: a 60m span is 6 windows; 240m keeps 18 more behind it.
    return make_config({"overturn_rate": {
        "mode": "rate_surprise", "window": "10m", "baseline": "60m", "baseline_max": "240m",
        "min_lift": 0.2, "critical": 2.5, **extra}})


def trials_for(p: float, min_lift: float) -> float:
    # By hand: sqrt(p (1 - p) / T) = min_lift / 10.
    return p * (1 - p) / (min_lift / 10) ** 2


def test_pools_back_newest_first_until_enough_trials() -> None:
    b = Baseline(3, 0, extend=4)
    for hits, trials in [(1, 10), (2, 10), (3, 10), (4, 10), (5, 10), (6, 10), (7, 10)]:
        b.offer(hits, trials, anomalous=False, alerting=False)
    # Span: the last 3 (5 + 6 + 7 of 30); behind it, newest last, the 4 before: 1, 2, 3, 4.
    assert b.pooled(1.0) == (18.0, 30.0)
    assert b.pooled_back(1.0, 30.0) == (18.0, 30.0)  # enough already: the span alone
    assert b.pooled_back(1.0, 41.0) == (25.0, 50.0)  # + (4, 10), (3, 10): reached 50 >= 41
    assert b.pooled_back(1.0, 1e9) == (28.0, 70.0)   # everything kept
    b.offer(8, 10, anomalous=False, alerting=False)
    assert b.pooled_back(1.0, 1e9) == (35.0, 70.0)   # (1, 10) dropped: 4 kept behind the span


def sparse_then_window(config: Config, overturned: int, decided: int) -> Evaluator:
    """4 h of 20 decided appeals per window at 25 %, the last hour at 15 %, then a window."""
    ev = Evaluator(config)
    for minute in range(0, 240, 10):
        feed(ev, minute, {YOUTH: counts(appeals_decided=20, appeals_overturned=5 if minute < 180
                                       else 3)})
    feed(ev, 240, {YOUTH: counts(appeals_decided=decided, appeals_overturned=overturned)})
    return ev


def test_a_sparse_area_is_judged_against_the_longer_rate() -> None:
    ev = sparse_then_window(overturn(), 9, 20)
    j = ev.judgements[(YOUTH, "overturn_rate")]
    # The hour: 18 of 120, p = 18.5 / 121 needs 324 trials: the hour and the 11 windows of
    # 5 of 20 before it (340 >= 324), 18 + 11 * 5 = 73 of 340.
    assert 320 < trials_for(18.5 / 121, 0.2) <= 340
    assert j.pooled == (73.0, 340.0)
    assert j.expected == pytest.approx(73 / 340)
    # Without baseline_max, the hour's 15 % is the baseline.
    j1 = sparse_then_window(overturn(baseline_max=None), 9, 20).judgements[(YOUTH,
                                                                         "overturn_rate")]
    assert j1.pooled == (18.0, 120.0)
    assert j.score is not None and j1.score is not None and j.score < j1.score


def test_a_dense_area_keeps_its_hour() -> None:
    ev = Evaluator(overturn())
    for minute in range(0, 240, 10):
        feed(ev, minute, {YOUTH: counts(appeals_decided=2000, appeals_overturned=500
                                       if minute < 180 else 300)})
    feed(ev, 240, {YOUTH: counts(appeals_decided=20, appeals_overturned=9)})
    j = ev.judgements[(YOUTH, "overturn_rate")]
    assert trials_for(1800.5 / 12001, 0.2) < 12000
    assert j.pooled == (1800.0, 12000.0)


def test_snapshot_round_trip_keeps_the_older_windows() -> None:
    config = overturn()
    ev = sparse_then_window(config, 9, 20)
    state = json.loads(json.dumps(ev.to_state()))
    assert any("older" in b for b in _baseline_states(state))  # the older windows travel
    resumed = Evaluator(config)
    resumed.restore(state)
    for e in (ev, resumed):
        feed(e, 250, {YOUTH: counts(appeals_decided=20, appeals_overturned=10)})
    a = ev.judgements[(YOUTH, "overturn_rate")]
    b = resumed.judgements[(YOUTH, "overturn_rate")]
    assert a.pooled == b.pooled and a.score == b.score
    assert a.pooled is not None and a.pooled[1] > 120  # it did pool back
    assert resumed.to_state() == ev.to_state()


def _baseline_states(state: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "values" in node and "queue" in node:
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(state["baselines"])
    return found


@pytest.mark.parametrize(("extra", "message"), [
    ({"min_lift": 0.0}, "defaults.overturn_rate.baseline_max: only rate_surprise with "
                        "min_lift above 0"),
    ({"baseline_max": "30m"}, "defaults.overturn_rate.baseline_max: 30m must be longer than "
                              "baseline"),
])
def test_config_errors_name_file_field_and_fix(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        overturn(**extra)
    assert "test-thresholds.yaml" in str(err.value) and message in str(err.value)


def test_refused_with_a_count_tail() -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"appeal_rate": {
            "mode": "rate_surprise", "window": "10m", "baseline": "1h", "baseline_max": "4h",
            "min_lift": 0.15, "surprise_of": "count", "critical": 5}})
    assert "defaults.appeal_rate.baseline_max: the count tail pools" in str(err.value)


def test_standard_error_at_the_needed_trials_is_a_tenth_of_the_lift() -> None:
    t = trials_needed(24.5, 99.0, 0.2)  # p = 25 / 100
    assert math.sqrt(0.25 * 0.75 / t) == pytest.approx(0.02)
