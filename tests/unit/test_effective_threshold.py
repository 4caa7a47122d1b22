"""A relative rule's level in the signal's unit: the smallest value that scores at the level.

The expected thresholds come from tails written out here term by term (negative binomial and
beta-binomial pmfs from lgamma, summed directly) and a linear search, not from the engine."""

from __future__ import annotations

import math

from signals.config import SignalRule
from signals.effective import threshold_in_unit
from signals.judges import Judgement


def nb_tail(k: int, total: float, windows: float) -> float:
    """P(K >= k): K negative binomial, r = total + 1/2, p = windows / (windows + 1)."""
    r, p = total + 0.5, windows / (windows + 1.0)
    below = sum(math.exp(math.lgamma(j + r) - math.lgamma(r) - math.lgamma(j + 1)
                         + r * math.log(p) + j * math.log1p(-p)) for j in range(k))
    return 1.0 - below


def bb_tail(k: int, n: int, hits: float, trials: float) -> float:
    a, b = hits + 0.5, trials - hits + 0.5

    def lbeta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return sum(math.comb(n, j) * math.exp(lbeta(j + a, n - j + b) - lbeta(a, b))
               for j in range(k, n + 1))


def rule(mode: str, **extra: object) -> SignalRule:
    base = {"mode": mode, "window": "10m", "step": "1m", "baseline": "1h", "warn": 3,
            "critical": 5}
    return SignalRule.model_validate(base | extra)


def test_count_threshold_is_the_smallest_count_past_the_level_and_the_floor() -> None:
    total, windows = 13.2, 6.0  # 2.2 per window over six distinct windows
    j = Judgement(0.0, 2.2, False, 3.0, 1.0, (total, windows))
    expected = next(k for k in range(1, 200) if -math.log10(nb_tail(k, total, windows)) >= 5)
    assert expected > 11  # past the 5x floor (11): the tail decides
    assert threshold_in_unit("regulator_reports", rule("count_surprise", min_ratio=5.0), 5, j) \
        == expected
    # A floor above the tail's answer decides instead: 30x expected = 66.
    assert threshold_in_unit("regulator_reports", rule("count_surprise", min_ratio=30.0), 5,
                             j) == 66


def test_report_surge_threshold_is_a_ratio_to_the_expected_count() -> None:
    total, windows = 240.0, 12.0  # 20 reports per window
    j = Judgement(0.0, 20.0, False, 20.0, 1.0, (total, windows))
    k = next(k for k in range(1, 500) if -math.log10(nb_tail(k, total, windows)) >= 6)
    got = threshold_in_unit("report_surge", rule("count_surprise", min_ratio=1.0, window="5m",
                                                  warn=4, critical=6), 6, j)
    assert got == k / 20.0


def test_rate_threshold_at_the_windows_sample_size() -> None:
    # 13 decided appeals in the window against 12 % of 600 in the baseline.
    j = Judgement(0.0, 0.12, False, 2.0, 13.0, (72.0, 600.0))
    k = next(k for k in range(14) if -math.log10(bb_tail(k, 13, 72.0, 600.0)) >= 2.5)
    r = rule("rate_surprise", warn=2.2, critical=2.5, min_lift=0.2)
    assert threshold_in_unit("overturn_rate", r, 2.5, j) == k / 13
    # The lift floor: 12 % + 60 points = 72 % of 13 -> 10 of 13.
    r = rule("rate_surprise", warn=2.2, critical=2.5, min_lift=0.6)
    assert threshold_in_unit("overturn_rate", r, 2.5, j) == 10 / 13


def test_rate_threshold_none_when_no_rate_can_reach_the_level() -> None:
    # 2 samples: even 2 of 2 cannot score 5 against 12 %.
    j = Judgement(0.0, 0.12, False, 0.0, 2.0, (72.0, 600.0))
    assert -math.log10(bb_tail(2, 2, 72.0, 600.0)) < 5
    assert threshold_in_unit("overturn_rate", rule("rate_surprise"), 5, j) is None


def test_ratio_threshold_and_warming() -> None:
    j = Judgement(2.0, 1800.0, True, 3600.0, 1.0)
    assert threshold_in_unit("review_latency_p95", rule("baseline_ratio", window="5m"), 3, j) \
        == 5400.0
    warming = Judgement(None, None, False, 3600.0, 1.0)
    assert threshold_in_unit("review_latency_p95", rule("baseline_ratio", window="5m"), 3,
                             warming) is None
