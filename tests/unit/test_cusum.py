"""The Bernoulli CUSUM of rate rules (sequential: cusum), alone and through the Evaluator.

Log-likelihood ratios are computed here from binomial pmfs (math.comb), never read back from
signals.sequential.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from signals.config import Config, ConfigError
from signals.counts import Counts
from signals.evaluator import Evaluator
from signals.keys import Key
from signals.sequential import Cusum, rates
from tests.helpers import T0, make_config

BASE = int(T0.timestamp())
YOUTH: Key = ("youth_safety", None)


def pmf(k: int, n: int, p: float) -> float:
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def hand_llr(k: int, n: int, p0: float, p1: float) -> float:
    return math.log10(pmf(k, n, p1) / pmf(k, n, p0))


def lifted(p0: float, lift: float) -> float:
    """p1 > p0 + lift at which the expected LLR of a sample at rate p0 + lift is zero, found
    by bisection on that expectation (signals.sequential solves a closed form instead)."""
    q = p0 + lift

    def drift(p1: float) -> float:
        return q * math.log(p1 / p0) + (1 - q) * math.log((1 - p1) / (1 - p0))

    lo, hi = q, 1 - 1e-9  # at p1 = q the drift is KL(q || p0) > 0; near 1 it is very negative
    assert drift(lo) > 0 > drift(hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if drift(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def test_the_alternative_rate_drifts_neither_way_at_the_floor_of_effect() -> None:
    for hits, trials, lift in ((12, 100, 0.2), (30, 100, 0.25), (1, 400, 0.1)):
        p0, p1 = rates(hits, trials, lift)
        assert p0 == pytest.approx((hits + 0.5) / (trials + 1))
        assert p1 == pytest.approx(lifted(p0, lift), abs=1e-9)
    assert rates(90, 100, 0.2)[1] == rates(90, 100, 0.2)[0]  # p0 + lift past 1: no test


def test_hand_computed_llr_sequence() -> None:
    p0, p1 = 0.12, 0.32
    steps = [(2, 3), (0, 3), (1, 3), (3, 3), (0, 10), (0, 10), (0, 10)]
    cusum = Cusum(cap=30.0)
    expected = 0.0
    for k, n in steps:
        expected = max(0.0, expected + hand_llr(k, n, p0, p1))
        assert cusum.update(k, n, p0, p1) == pytest.approx(expected, abs=1e-12)
    # By hand: 2 of 3 adds 2 log10(32/12) + log10(68/88) = 0.8519 - 0.1120 = 0.7400; 0 of 3
    # takes 3 x 0.1120 = 0.3359.
    assert hand_llr(2, 3, p0, p1) == pytest.approx(0.7400, abs=1e-4)
    assert hand_llr(0, 3, p0, p1) == pytest.approx(-0.3359, abs=1e-4)
    assert expected == 0.0  # the 30 misses at the end brought it back to the floor


def test_capped_above_the_highest_level_and_reset_when_the_alert_resolves() -> None:
    cusum = Cusum(cap=6.0)
    for _ in range(50):
        cusum.update(3, 3, 0.12, 0.32)
    assert cusum.score == 6.0
    cusum.alert_state(True)
    cusum.alert_state(True)
    assert cusum.score == 6.0
    cusum.alert_state(False)  # resolved: a new episode needs new evidence
    assert cusum.score == 0.0


@pytest.mark.parametrize("level", [1.0, 2.0, 3.0])
def test_noise_at_the_baseline_rate_alarms_at_most_once_in_ten_to_the_level(
        level: float) -> None:
    # Wald: at the baseline rate the CUSUM reaches h at most about once in 10^h steps.
    rng = random.Random(20261202)
    steps = 200_000
    cusum = Cusum(cap=30.0)
    alarms = 0
    for _ in range(steps):
        k = sum(rng.random() < 0.12 for _ in range(3))
        if cusum.update(k, 3, 0.12, 0.32) >= level:
            alarms += 1
            cusum.score = 0.0  # an alarm restarts the test
    assert 0 < alarms <= steps / 10**level


def overturn(sequential: bool, **extra: Any) -> Config:
    rule = {"mode": "rate_surprise", "window": "1m", "baseline": "1h", "min_lift": 0.2,
            "warn": 3, "critical": 5, **extra}
    if sequential:
        rule["sequential"] = "cusum"
    return make_config({"overturn_rate": rule})


def feed(ev: Evaluator, minute: int, decided: int, overturned: int) -> None:
    c = Counts()
    c.appeals_decided, c.appeals_overturned = decided, overturned
    ev.add_pane(BASE + minute * 60, {YOUTH: c})
    ev.close_through(BASE + minute * 60 + 60)


def trickle(config: Config, steps: int = 20) -> Evaluator:
    """An hour of 3 overturned of 25 decided a minute (12 %), then 2 of 3 a minute."""
    ev = Evaluator(config)
    for minute in range(60):
        feed(ev, minute, 25, 3)
    for minute in range(60, 60 + steps):
        feed(ev, minute, 3, 2)
    return ev


def test_a_slow_trickle_no_window_decides_pages_through_the_cusum() -> None:
    assert trickle(overturn(sequential=False)).episodes == []  # each window scores ~1.4
    ev = trickle(overturn(sequential=True))
    assert [(e.severity, (e.started_at.timestamp() - BASE) // 60) for e in ev.episodes] == [
        ("warn", 63), ("critical", 65)]


def test_the_cusum_follows_the_baseline_rate_by_hand() -> None:
    ev = trickle(overturn(sequential=True), steps=2)
    cusum = ev._baselines[(YOUTH, "overturn_rate")].cusum
    assert cusum is not None
    # Step 1 against 180 of 1,500 (Jeffreys: +1/2, +1); its window (a score of ~1.4) then
    # enters the baseline in place of minute 0's: step 2 is against 179 of 1,478.
    p0 = 180.5 / 1501
    p0_next = 179.5 / 1479
    expected = (hand_llr(2, 3, p0, lifted(p0, 0.2))
                + hand_llr(2, 3, p0_next, lifted(p0_next, 0.2)))
    assert expected == pytest.approx(2.085, abs=1e-3)  # about 1.04 a step
    assert cusum.score == pytest.approx(expected, abs=1e-9)


def test_the_cusum_resets_after_the_episode_and_its_windows_stay_out() -> None:
    ev = trickle(overturn(sequential=True))
    baseline = ev._baselines[(YOUTH, "overturn_rate")]
    hits, trials = baseline.pooled(1.0)
    # Of the 20 trickle windows, the first (CUSUM 1.04) entered; from the 2nd (2.08) on the
    # CUSUM was past the exclusion cut (2) or the alert on, so they stayed out.
    assert (hits, trials) == (59 * 3 + 2, 59 * 25 + 3)
    minute = 80
    while any(e.ended_at is None for e in ev.episodes):
        feed(ev, minute, 25, 3)
        minute += 1
        assert minute < 200
    assert baseline.cusum is not None and baseline.cusum.score == 0.0


def test_noise_through_the_evaluator_does_not_page() -> None:
    rng = random.Random(7)
    ev = Evaluator(overturn(sequential=True))
    for minute in range(20_000):  # two weeks of one-minute steps, 3 decided each
        feed(ev, minute, 3, sum(rng.random() < 0.12 for _ in range(3)))
    assert [e for e in ev.episodes if e.severity == "critical"] == []
    # Warn is 3: at most about one in 1,000 steps from the CUSUM, as many from the windows.
    assert len(ev.episodes) <= 2 * 20_000 / 1000


def test_snapshot_round_trip_carries_the_cusum() -> None:
    config = overturn(sequential=True)
    whole, first = Evaluator(config), Evaluator(config)
    traffic = [(25, 3)] * 60 + [(3, 2)] * 4 + [(3, 2)] * 16 + [(25, 3)] * 40
    for minute, (n, k) in enumerate(traffic[:64]):
        feed(whole, minute, n, k)
        feed(first, minute, n, k)
    state = json.loads(json.dumps(first.to_state()))
    assert state["baselines"]["youth_safety#overturn_rate"]["cusum"][0] > 2
    resumed = Evaluator(config)
    resumed.restore(state)
    for minute, (n, k) in enumerate(traffic[64:], start=64):
        feed(whole, minute, n, k)
        feed(resumed, minute, n, k)
    assert resumed.episodes == whole.episodes
    assert [e.severity for e in whole.episodes] == ["warn", "critical"]
    assert resumed.to_state() == whole.to_state()


@pytest.mark.parametrize(("rule", "message"), [
    ({"mode": "rate_surprise", "window": "5m", "baseline": "1h", "critical": 3,
      "sequential": "cusum"},
     "test-thresholds.yaml: defaults.overturn_rate.min_lift: sequential: cusum tests the "
     "baseline rate against it plus min_lift; set min_lift above 0 (e.g. 0.2)"),
    ({"mode": "rate_surprise", "window": "5m", "baseline": "1h", "critical": 3,
      "min_lift": 0.2, "sequential": "sprt"},
     "defaults.overturn_rate.sequential: Input should be 'none' or 'cusum'"),
    ({"window": "5m", "critical": 0.5, "sequential": "cusum"},
     "defaults.overturn_rate.sequential: only relative modes use it"),
])
def test_config_errors_name_file_field_and_fix(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"overturn_rate": rule})
    assert message in str(err.value)


def test_sequential_only_on_rate_rules() -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"report_volume": {"mode": "count_surprise", "window": "5m",
                                       "baseline": "1h", "critical": 3,
                                       "sequential": "cusum"}})
    assert ("defaults.report_volume.sequential: only rate_surprise runs a CUSUM; remove it"
            in str(err.value))
