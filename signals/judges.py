"""How a window is judged against its area's own baseline, one function per rule mode.

A judgement turns a window's raw signal value into a *score* the alert machine compares with
the rule's levels, plus whether the change is *material* (an absolute floor of effect: a
minimum ratio to the expected count, or a minimum lift of a rate). A window that is
significant but not material scores 0: at a large volume a 3 % drift is certain and still
not worth a page, and the floor is what keeps the daily swing from paging a big area.

- ``count_surprise``: -log10 of the predictive tail of the count (negative binomial around the
  baseline mean); means the same at any volume.
- ``rate_surprise``: -log10 of the beta-binomial tail of k of n around the baseline's pooled
  rate; small windows cannot reach a high score, so it is its own small-sample guard.
  With ``surprise_of: count`` (appeal_rate) the tail is of k as a *count* against the
  baseline's appeals per window, and k / n is kept only as the floor of effect: appeals are
  filed against earlier decisions, so k is not "k of this window's n", and a dip in n alone
  must not make an ordinary number of appeals look certain. The score is the smaller of the
  count's and the k-of-n tail: the window is surprising under both models of how appeals
  arrive (an intersection-union test: P(both >= h) <= 10^-h still), so neither a dip in n
  (the rate's weakness) nor a sparse area's rising volume (the count's) pages alone.
- ``baseline_ratio``: the value over the baseline's median (review latency: 3 = three times
  the area's usual p95).

Options: ``seasonal:`` scales a count's expectation by the area's daily shape
(:mod:`signals.seasonal`); ``sequential: cusum`` lets a rate's evidence add up across steps
(:mod:`signals.sequential`), the score being the larger of the window's and the CUSUM's.
"""

from __future__ import annotations

from typing import Any, Final

from signals.baselines import Baseline
from signals.config import SignalRule
from signals.seasonal import Seasonal
from signals.sequential import Cusum, rates
from signals.significance import MAX_SCORE, count_surprise, rate_surprise


class Judgement:
    """One window's verdict; read-only by convention.

    A plain class, not a frozen dataclass: compiled, a dataclass's ``__init__`` is the one
    the decorator generates at run time (Python, through ``object.__setattr__``), and the
    evaluator builds one per relative window: that was a quarter of the judging's cost.
    """

    __slots__ = ("den", "expected", "material", "num", "pooled", "score", "shaped", "windows")

    def __init__(self, score: float | None, expected: float | None, material: bool,
                 num: float, den: float, pooled: tuple[float, float] | None = None,
                 shaped: bool = False, windows: float | None = None) -> None:
        # None: the baseline is warming up, or the window has no value; 0 when not material
        # (the tail is then not computed: most windows of normal traffic stop there).
        self.score = score
        self.expected = expected  # the baseline's expected value, in the signal's unit
        self.material = material
        self.num = num  # what the window adds to the baseline (see Baseline)
        self.den = den
        # The baseline's sums the tail was (or would be) taken against: (total count,
        # windows) or (hits, trials), the count's scaled by the daily shape where it was used.
        self.pooled = pooled
        self.shaped = shaped  # the expectation used the daily shape
        # surprise_of: count: the baseline's windows (overlap-weighted) the count tail used.
        self.windows = windows

    def __repr__(self) -> str:
        return (f"Judgement(score={self.score!r}, expected={self.expected!r}, "
                f"material={self.material!r}, num={self.num!r}, den={self.den!r}, "
                f"pooled={self.pooled!r}, shaped={self.shaped!r}, windows={self.windows!r})")


def judge(rule: SignalRule, value: float | None, n: int, baseline: Baseline,
          overlap: float, end: int = -1,
          step: tuple[float | None, int] | None = None) -> Judgement | None:
    """Judge the window ending at ``end``; None when it has nothing to judge or learn from.
    ``step``: the newest step's own (value, n), for a sequential rule's CUSUM."""
    mode = rule.mode
    if mode == "count_surprise":
        k = round(value if value is not None else 0.0)
        if not baseline.ready:
            return Judgement(None, None, False, float(k), 1.0)
        expected = baseline.mean()
        total, windows = baseline.pooled(overlap)
        factor = None if baseline.seasonal is None else baseline.seasonal.factor(end)
        if factor is not None:
            expected *= factor
            total *= factor
        pooled = (total, windows)
        if k < rule.min_ratio * expected:  # immaterial: no need for the tail sum
            return Judgement(0.0, expected, False, float(k), 1.0, pooled, factor is not None)
        return Judgement(count_surprise(k, total, windows), expected, True, float(k), 1.0,
                         pooled, factor is not None)
    if value is None or n <= 0:
        return None
    if mode == "rate_surprise":
        return _judge_rate(rule, value, n, baseline, overlap, step)
    # baseline_ratio
    if not baseline.ready:
        return Judgement(None, None, False, value, 1.0)
    median = baseline.median()
    if median <= 0:
        return Judgement(None, median, False, value, 1.0)
    return Judgement(value / median, median, True, value, 1.0)


def _judge_rate(rule: SignalRule, value: float, n: int, baseline: Baseline, overlap: float,
                step: tuple[float | None, int] | None) -> Judgement:
    hits = round(value * n)
    if not baseline.ready:
        return Judgement(None, None, False, float(hits), float(n))
    pooled_hits, trials = baseline.pooled(overlap)
    if trials <= 0:
        return Judgement(None, None, False, float(hits), float(n))
    if rule.baseline_max_s is not None:
        pooled_hits, trials = baseline.pooled_back(overlap, trials_needed(
            pooled_hits, trials, rule.min_lift))
    p0 = pooled_hits / trials
    material = value - p0 >= rule.min_lift
    if rule.surprise_of == "count":
        windows = baseline.windows(overlap)
        score = min(count_surprise(hits, pooled_hits, windows),
                    rate_surprise(hits, n, pooled_hits, trials)) if material else 0.0
        return Judgement(score, p0, material, float(hits), float(n), (pooled_hits, trials),
                         windows=windows)
    score = rate_surprise(hits, n, pooled_hits, trials) if material else 0.0
    cusum = baseline.cusum
    if cusum is not None and step is not None and step[0] is not None:
        score = max(score, cusum.update(round(step[0] * step[1]), step[1],
                                        *rates(pooled_hits, trials, rule.min_lift)))
    return Judgement(score, p0, material, float(hits), float(n), (pooled_hits, trials))


# The baseline rate's standard error must be at most this share of the rule's min_lift:
# then whether a window is material (and how far past the floor it is) depends on the
# window, not on how the baseline's own hour happened to draw.
KNOWN_TO: Final = 0.1


def trials_needed(hits: float, trials: float, min_lift: float) -> float:
    """Distinct trials for the rate p's standard error sqrt(p (1 - p) / T) to be
    ``KNOWN_TO`` x ``min_lift``, p estimated from the span (Jeffreys, so never 0)."""
    p = (hits + 0.5) / (trials + 1.0)
    return p * (1.0 - p) / (KNOWN_TO * min_lift) ** 2


def extension(rule: SignalRule) -> int:
    """Windows a sparse rate rule may pool beyond its span (``baseline_max``)."""
    if rule.baseline_max_s is None or rule.baseline_s is None:
        return 0
    return (rule.baseline_max_s - rule.baseline_s) // rule.step


def new_baseline(rule: SignalRule) -> Baseline:
    """An empty baseline for a relative rule, with its daily shape and CUSUM if it has them."""
    return Baseline(*shape(rule), *_options(rule), extension(rule))


def restore_baseline(state: dict[str, Any], rule: SignalRule) -> Baseline:
    return Baseline.from_state(state, *shape(rule), *_options(rule), extension(rule))


def fits(baseline: Baseline, rule: SignalRule) -> bool:
    """Whether a (reconfigured) rule can keep this baseline object as it is."""
    seasonal, cusum = baseline.seasonal, baseline.cusum
    return ((baseline.size, baseline.delay) == shape(rule)
            and (None if seasonal is None else (seasonal.slot, seasonal.days))
            == (None if rule.seasonal_s is None else (rule.seasonal_s, rule.seasonal_days))
            and (None if cusum is None else cusum.cap) == _cap(rule)
            and baseline.extend == extension(rule))


def _cap(rule: SignalRule) -> float | None:
    if rule.sequential == "none":
        return None
    levels = [lv for lv in (rule.warn, rule.critical) if lv is not None]
    return max(levels) + 1.0 if levels else MAX_SCORE


def _options(rule: SignalRule) -> tuple[Seasonal | None, Cusum | None]:
    cap = _cap(rule)
    return (None if rule.seasonal_s is None else Seasonal(
        rule.seasonal_s, rule.seasonal_days, rule.step, rule.window_s),
            None if cap is None else Cusum(cap))


def effective(j: Judgement | None) -> float | None:
    """What the alert machine compares with the levels."""
    return None if j is None else j.score


MEASURES: Final[dict[str, str]] = {"absolute": "value", "count_surprise": "surprise",
                             "rate_surprise": "surprise", "baseline_ratio": "ratio"}


def shape(rule: SignalRule) -> tuple[int, int]:
    """A relative rule's baseline size (windows) and delay (windows overlapping the judged)."""
    assert rule.baseline_s is not None
    return rule.baseline_s // rule.step, -(-rule.window_s // rule.step) - 1


# Windows past this score (1 in 100 as noise) stay out of the baseline even under the levels,
# so an incident's ramp and tail teach it nothing; that loses 1 % of normal windows.
EXCLUDE_SCORE: Final = 2.0


def anomalous(rule: SignalRule, score: float | None, n: int) -> bool:
    """Material and past the rule's lowest level or :data:`EXCLUDE_SCORE`: such a window must
    not teach the baseline."""
    return anomalous_from(exclusion_level(rule), rule.min_samples, score, n)


def exclusion_level(rule: SignalRule) -> float | None:
    """The score from which a window is :func:`anomalous`; None for a rule without levels."""
    levels = [lv for lv in (rule.warn, rule.critical) if lv is not None]
    return min(*levels, EXCLUDE_SCORE) if levels else None


def anomalous_from(level: float | None, min_samples: int, score: float | None, n: int) -> bool:
    """:func:`anomalous` with the rule's :func:`exclusion_level` worked out beforehand."""
    return level is not None and score is not None and n >= min_samples and score >= level
