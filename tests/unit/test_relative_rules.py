"""Baseline-relative rules, judged through the Evaluator on hand-built panes.

Expected values are computed here from the textbook formulas (math.comb, factorials), never
read back from signals.significance.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from signals.config import Config, ConfigError
from signals.counts import Counts
from signals.evaluator import Evaluator
from signals.keys import Key
from signals.significance import count_surprise
from tests.helpers import T0, make_config

BASE = int(T0.timestamp())
YOUTH: Key = ("youth_safety", None)
ADULT: Key = ("adult_nudity", None)


def binomial_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def poisson_tail(k: int, lam: float) -> float:
    return 1.0 - sum(math.exp(-lam) * lam**i / math.factorial(i) for i in range(k))


def counts(**fields: int) -> Counts:
    c = Counts()
    for name, value in fields.items():
        setattr(c, name, value)
    return c


def feed(ev: Evaluator, minute: int, per_key: dict[Key, Counts]) -> None:
    pane = BASE + minute * 60
    assert (pane - BASE) % ev.pane == 0
    ev.add_pane(pane, per_key)
    ev.close_through(pane + ev.pane)


def overturn_rule(critical: float, **extra: Any) -> Config:
    return make_config({"overturn_rate": {
        "mode": "rate_surprise", "window": "10m", "baseline": "100m", "min_lift": 0.2,
        "critical": critical, **extra}})


def judge_window(config: Config, overturned: int, decided: int) -> Evaluator:
    """10 baseline windows of 10,000 decided appeals at 12 %, then one window of k of n."""
    ev = Evaluator(config)
    assert ev.pane == 600  # tumbling 10m windows: one pane each
    for minute in range(0, 100, 10):
        feed(ev, minute, {YOUTH: counts(appeals_decided=10_000, appeals_overturned=1200)})
    feed(ev, 100, {YOUTH: counts(appeals_decided=decided, appeals_overturned=overturned)})
    return ev


def pages(ev: Evaluator) -> list[Any]:
    return [e for e in ev.episodes if e.severity == "critical"]


SCORE_6_OF_13 = -math.log10(binomial_tail(6, 13, 0.12))  # 2.618 by hand


def test_hand_computed_score_of_six_of_thirteen() -> None:
    assert SCORE_6_OF_13 == pytest.approx(2.6178, abs=1e-4)
    assert -math.log10(binomial_tail(2, 3, 0.12)) == pytest.approx(1.4007, abs=1e-4)


@pytest.mark.parametrize(("level", "paged"), [(SCORE_6_OF_13 - 0.02, True),
                                              (SCORE_6_OF_13 + 0.02, False)])
def test_significance_guard_just_under_and_over_its_boundary(level: float, paged: bool) -> None:
    ev = judge_window(overturn_rule(level), 6, 13)
    assert bool(pages(ev)) is paged
    judged = [e for e in ev.episodes]
    if paged:
        assert judged[0].measure == "surprise"
        assert judged[0].threshold == pytest.approx(level)


def test_six_of_thirteen_pages_and_two_of_three_cannot() -> None:
    assert pages(judge_window(overturn_rule(2.5), 6, 13))
    assert not pages(judge_window(overturn_rule(2.5), 2, 3))  # 67 % but scores only 1.4
    # The lift floor: 9 of 40 is 22 % (significant against 12 %) but only 10 points up.
    assert -math.log10(binomial_tail(9, 40, 0.12)) > 1.3
    assert not pages(judge_window(overturn_rule(1.3), 9, 40))


def count_config(**extra: Any) -> Config:
    return make_config({"report_volume": {
        "mode": "count_surprise", "window": "1m", "baseline": "30m", "min_ratio": 2.0,
        "warn": 4, "critical": 6, **extra}})


def test_baseline_not_contaminated_by_a_sustained_incident() -> None:
    ev = Evaluator(count_config())
    for minute in range(60):
        feed(ev, minute, {YOUTH: counts(reports=20)})
    for minute in range(60, 105):  # 45 minutes at 3x, longer than the 30m baseline
        feed(ev, minute, {YOUTH: counts(reports=60)})
    assert [e.severity for e in ev.episodes] == ["warn", "critical"]
    assert all(e.ended_at is None for e in ev.episodes)  # still firing after 45 minutes
    assert ev.episodes[1].started_at.timestamp() == BASE + 61 * 60
    baseline = ev._baselines[(YOUTH, "report_volume")]
    assert baseline.mean() == 20.0  # the incident's 60s never entered
    for minute in range(105, 110):
        feed(ev, minute, {YOUTH: counts(reports=20)})
    assert all(e.ended_at is not None and e.ended_at.timestamp() == BASE + 106 * 60
               for e in ev.episodes)


def test_a_cold_start_does_not_page_and_says_it_is_warming_up() -> None:
    ev = Evaluator(count_config())
    assert ev.warming(YOUTH, "report_volume")
    for minute in range(10):  # an "incident" from the first minute: nothing to compare with
        feed(ev, minute, {YOUTH: counts(reports=200)})
    assert ev.warming(YOUTH, "report_volume")
    assert ev.latest[(YOUTH, "report_volume")].value == 200  # rows still carry the value
    for minute in range(10, 40):
        feed(ev, minute, {YOUTH: counts(reports=200 if minute < 15 else 20)})
    assert not ev.warming(YOUTH, "report_volume")  # 15 windows: half the 30m baseline
    assert ev.episodes == []
    # Absolute rules never warm up.
    absolute = Evaluator(make_config({"report_volume": {"window": "1m", "warn": 5}}))
    assert not absolute.warming(YOUTH, "report_volume")


@pytest.mark.parametrize("lam", [10.0, 100.0])
def test_count_score_is_a_calibrated_tail_at_any_volume(lam: float) -> None:
    # With a long history the score of k is -log10 P(X >= k) for Poisson(lam): the first k
    # scoring 3 or more is where the hand-computed tail drops to 1 in 1,000.
    windows = 100_000.0
    first = next(k for k in range(int(lam), int(lam) * 5)
                 if count_surprise(k, lam * windows, windows) >= 3)
    assert poisson_tail(first, lam) <= 1e-3 < poisson_tail(first - 1, lam)
    assert count_surprise(first, lam * windows, windows) == pytest.approx(
        -math.log10(poisson_tail(first, lam)), abs=0.01)


def test_same_relative_jump_judged_alike_in_a_small_and_a_big_area() -> None:
    ev = Evaluator(count_config())
    for minute in range(40):
        feed(ev, minute, {YOUTH: counts(reports=10), ADULT: counts(reports=1000)})
    for minute in range(40, 45):  # +30 % in the big area: certain, but not material
        feed(ev, minute, {YOUTH: counts(reports=10), ADULT: counts(reports=1300)})
    judged = ev.judgements[(ADULT, "report_volume")]
    # Immaterial windows do teach the baseline (so a slow drift is followed, not accumulated):
    # by the fifth such minute it holds 26 windows of 1,000 and 4 of 1,300.
    assert judged.score == 0.0 and not judged.material
    assert judged.expected == pytest.approx((26 * 1000 + 4 * 1300) / 30)
    # Chernoff: P(X >= k) <= e^-lam (e lam / k)^k, so the score is at least 17: certain as
    # noise goes, and still not a page.
    chernoff_ln = -1000 + 1300 * (1 + math.log(1000 / 1300))
    assert -chernoff_ln / math.log(10) > 17
    assert ev.episodes == []
    for minute in range(45, 50):  # 3x in both
        feed(ev, minute, {YOUTH: counts(reports=30), ADULT: counts(reports=3000)})
    assert sorted((e.policy_area, e.severity) for e in ev.episodes) == [
        ("adult_nudity", "critical"), ("adult_nudity", "warn"),
        ("youth_safety", "critical"), ("youth_safety", "warn")]


def test_snapshot_round_trip_carries_the_baselines() -> None:
    config = count_config(window="5m", step="1m")
    traffic = [{YOUTH: counts(reports=20 + (m * 7) % 5)} for m in range(40)]
    traffic += [{YOUTH: counts(reports=70)} for _ in range(15)]
    traffic += [{YOUTH: counts(reports=20)} for _ in range(15)]
    whole = Evaluator(config)
    first = Evaluator(config)
    for minute, panes in enumerate(traffic[:50]):
        feed(whole, minute, panes)
        feed(first, minute, panes)
    state = json.loads(json.dumps(first.to_state()))
    assert state["baselines"]  # the history itself is in the snapshot
    resumed = Evaluator(config)
    resumed.restore(state)
    assert not resumed.warming(YOUTH, "report_volume")
    for minute, panes in enumerate(traffic[50:], start=50):
        feed(whole, minute, panes)
        feed(resumed, minute, panes)
    assert resumed.episodes == whole.episodes
    assert [e.severity for e in whole.episodes] == ["warn", "critical"]
    assert resumed.to_state() == whole.to_state()


@pytest.mark.parametrize(("rule", "message"), [
    ({"mode": "rate_surprise", "window": "5m", "baseline": "1h", "critical": 3},
     "test-thresholds.yaml: defaults.report_volume.mode: rate_surprise cannot judge "
     "report_volume (a count signal); use one of: absolute, count_surprise, baseline_ratio"),
    ({"mode": "count_surprise", "window": "5m", "critical": 3},
     "test-thresholds.yaml: defaults.report_volume.baseline: mode count_surprise compares "
     "against the area's own trailing baseline; add baseline: (e.g. 30m)"),
    ({"mode": "count_surprise", "window": "5m", "baseline": "5m", "critical": 3},
     "defaults.report_volume.baseline: 5m is under two windows (5m each); make it at least 10m"),
    ({"mode": "count_surprise", "window": "5m", "baseline": "1h", "min_lift": 0.1,
      "critical": 3},
     "defaults.report_volume.min_lift: only rate_surprise uses it; remove it"),
    ({"window": "5m", "min_ratio": 2, "critical": 3},
     "defaults.report_volume.min_ratio: only relative modes use it"),
])
def test_config_errors_name_file_field_and_fix(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"report_volume": rule})
    assert message in str(err.value)
