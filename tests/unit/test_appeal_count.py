"""appeal_rate judged as a count: ``rate_surprise`` with ``surprise_of: count``.

Appeals are filed against earlier decisions, so "k appeals of this window's n actioned
decisions" is not a proportion: a dip in n with the usual appeals made the binomial call an
ordinary window certain (the false pages of random-profile seeds 4 and 5, docs/detection.md).
The count tail judges k against the area's own appeals per window; k / n stays the floor.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from signals.config import Config, ConfigError
from signals.effective import threshold_in_unit
from signals.evaluator import Evaluator
from signals.judges import Judgement
from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.sources.simulator import Incident, Simulator
from tests.helpers import make_config
from tests.support import REPO
from tests.unit.test_relative_rules import YOUTH, counts, feed, pages


def nb_tail(k: int, total: float, windows: float) -> float:
    """P(X >= k), X negative binomial with r = total + 1/2, p = windows / (windows + 1) (the
    predictive count after a Gamma(total + 1/2, windows) posterior), summed term by term."""
    r, p = total + 0.5, windows / (windows + 1.0)
    return sum(math.exp(math.lgamma(i + r) - math.lgamma(r) - math.lgamma(i + 1.0)
                        + r * math.log(p) + i * math.log(1.0 - p)) for i in range(k, k + 2000))


def beta_binomial_tail(k: int, n: int, hits: float, trials: float) -> float:
    """P(X >= min(k, n)), X beta-binomial(n, hits + 1/2, trials - hits + 1/2), term by term."""
    a, b = hits + 0.5, trials - hits + 0.5

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)
    return sum(math.comb(n, i) * math.exp(log_beta(i + a, n - i + b) - log_beta(a, b))
               for i in range(min(k, n), n + 1))


def both(k: int, n: int, hits: float, trials: float, windows: float) -> float:
    """The score by hand: the smaller of the count's and the k-of-n tail's."""
    return min(-math.log10(nb_tail(k, hits, windows)),
               -math.log10(beta_binomial_tail(k, n, hits, trials)))


def appeal_config(surprise_of: str = "count", **extra: Any) -> Config:
    # Tumbling 10m windows, a 100m baseline: 10 distinct windows, no overlap to divide by.
    return make_config({"appeal_rate": {
        "mode": "rate_surprise", "window": "10m", "baseline": "100m", "min_lift": 0.15,
        "surprise_of": surprise_of, "warn": 3, "critical": 5, **extra}})


def after_baseline(config: Config, windows: list[tuple[int, int]]) -> Evaluator:
    """10 windows of 25 appeals against 100 actioned decisions, then ``windows`` (k, n)."""
    ev = Evaluator(config)
    for minute in range(0, 100, 10):
        feed(ev, minute, {YOUTH: counts(actioned=100, appeals_filed=25)})
    for i, (k, n) in enumerate(windows):
        feed(ev, 100 + 10 * i, {YOUTH: counts(actioned=n, appeals_filed=k)})
    return ev


def test_hand_computed_count_tail_of_one_window() -> None:
    # seed 5's violent_extremism page: 41 appeals against 82 actioned, ~25 expected.
    ev = after_baseline(appeal_config(), [(41, 82)])
    j = ev.judgements[(YOUTH, "appeal_rate")]
    expected = -math.log10(nb_tail(41, 250.0, 10.0))
    assert expected == pytest.approx(both(41, 82, 250.0, 1000.0, 10.0))  # the count binds
    assert 2.0 < expected < 5.0  # by hand: a 1-in-a-few-hundred window, not a page
    assert j.score == pytest.approx(expected, rel=1e-6)
    assert j.expected == pytest.approx(0.25) and j.material  # the rate is the floor of effect
    assert ev.latest[(YOUTH, "appeal_rate")].value == pytest.approx(0.5)  # the contract's rate
    # The binomial reading of the same window (41 of 82 at 25 %) is past the page level.
    binomial = sum(math.comb(82, i) * 0.25**i * 0.75 ** (82 - i) for i in range(41, 83))
    assert -math.log10(binomial) > 5


def test_a_dip_in_actioned_decisions_with_constant_appeals_does_not_page() -> None:
    dip = [(25, 50), (26, 45), (24, 40), (25, 50)]  # rate 0.5-0.6 against 0.25: material
    ev = after_baseline(appeal_config(), dip)
    assert ev.episodes == []
    assert ev.judgements[(YOUTH, "appeal_rate")].material
    # The rate's own tail (the former default) pages the same windows: the test can fail.
    assert pages(after_baseline(appeal_config("rate"), dip))


def test_a_busy_window_with_proportionally_more_appeals_is_not_material() -> None:
    ev = after_baseline(appeal_config(), [(75, 300)])  # 3x the appeals, same 25 % rate
    j = ev.judgements[(YOUTH, "appeal_rate")]
    assert not j.material and j.score == 0.0 and ev.episodes == []


def test_in_a_sparse_area_the_k_of_n_tail_also_has_to_agree() -> None:
    # 3 appeals a window on 60 actioned, then 5 on 12: as a count 1 in ~100 windows, as
    # 5 of 12 against 5 % rarer; the score is the smaller.
    ev = Evaluator(appeal_config())
    for minute in range(0, 100, 10):
        feed(ev, minute, {YOUTH: counts(actioned=60, appeals_filed=3)})
    feed(ev, 100, {YOUTH: counts(actioned=12, appeals_filed=5)})
    j = ev.judgements[(YOUTH, "appeal_rate")]
    by_hand = both(5, 12, 30.0, 600.0, 10.0)
    assert by_hand == pytest.approx(-math.log10(nb_tail(5, 30.0, 10.0)))
    assert -math.log10(beta_binomial_tail(5, 12, 30.0, 600.0)) > by_hand
    assert j.score == pytest.approx(by_hand, rel=1e-6)
    # A dip in n with the usual count: k of n alone would score past 5, the count does not.
    # (The 5-of-12 window, under the levels, entered the baseline: 9 x 3 + 5 of 9 x 60 + 12.)
    feed(ev, 110, {YOUTH: counts(actioned=8, appeals_filed=6)})
    j = ev.judgements[(YOUTH, "appeal_rate")]
    assert -math.log10(beta_binomial_tail(6, 8, 32.0, 552.0)) > 5
    assert j.score == pytest.approx(both(6, 8, 32.0, 552.0, 10.0), rel=1e-6)
    assert j.score is not None and j.score < 2


def test_a_rise_in_appeals_pages() -> None:
    ev = after_baseline(appeal_config(), [(70, 100)])
    assert -math.log10(nb_tail(70, 250.0, 10.0)) > 5  # by hand
    assert pages(ev)


def test_the_simulators_appeal_wave_still_pages_with_the_shipped_config() -> None:
    config = load_config(REPO / "config" / "thresholds.yaml")
    rule = config.rule("scams_fraud", "appeal_rate")
    assert rule is not None and rule.surprise_of == "count"
    start = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
    wave = Incident("appeal_wave", "scams_fraud", "appeal_rate",
                    start + dt.timedelta(hours=1), 600)
    pipeline = Pipeline(config)
    for _, raw in Simulator(start=start, seed=5, incidents=[wave]).lines(4800):
        pipeline.feed(raw)
    pipeline.engine.flush()
    paged = [e for e in pipeline.engine.evaluator.episodes if e.severity == "critical"
             and (e.policy_area, e.signal) == ("scams_fraud", "appeal_rate")]
    assert paged, "the appeal wave never paged"
    assert wave.start <= paged[0].started_at <= wave.start + dt.timedelta(minutes=10)


def test_threshold_in_the_signals_unit() -> None:
    rule = appeal_config().rule("youth_safety", "appeal_rate")
    assert rule is not None
    # Baseline 250 appeals of 1,000 actioned in 10 windows; this window had 40 actioned.
    j = Judgement(0.0, 0.25, False, 10.0, 40.0, (250.0, 1000.0), windows=10.0)
    rate = threshold_in_unit("appeal_rate", rule, 5.0, j)
    assert rate is not None
    k = round(rate * 40)
    assert k == pytest.approx(rate * 40)
    # By hand: the smallest count past level 5 (the 15-point floor, 16 of 40, is far below).
    assert both(k, 40, 250.0, 1000.0, 10.0) >= 5 > both(k - 1, 40, 250.0, 1000.0, 10.0)
    assert k > 40  # appeals of earlier decisions can outnumber this window's decisions
    # Where the count level is easy, the rate floor decides: 0.25 + 0.15 at n = 400.
    big = Judgement(0.0, 0.25, False, 10.0, 400.0, (250.0, 1000.0), windows=10.0)
    assert threshold_in_unit("appeal_rate", rule, 0.5, big) == pytest.approx(160 / 400)


@pytest.mark.parametrize(("rule", "message"), [
    ({"mode": "count_surprise", "window": "10m", "baseline": "1h", "surprise_of": "count",
      "critical": 3}, "defaults.report_volume.surprise_of: only rate_surprise judges"),
    ({"window": "10m", "surprise_of": "count", "critical": 3},
     "defaults.report_volume.surprise_of: only relative modes use it"),
])
def test_config_errors_name_file_field_and_fix(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config({"report_volume": rule})
    assert "test-thresholds.yaml" in str(err.value) and message in str(err.value)


def test_surprise_of_count_refuses_a_cusum() -> None:
    with pytest.raises(ConfigError) as err:
        appeal_config(sequential="cusum")
    assert ("test-thresholds.yaml: defaults.appeal_rate.surprise_of: count judges appeals as "
            "a count, while sequential: cusum tests k of n; remove one of them") in str(err.value)
