"""A relative rule's level as a threshold in the signal's own unit, for people.

A surprise level of 5 says little to whoever is paged; "12 regulator reports in 10 minutes
(expected 2.1)" says what the level means now, in this area. The engine pages on the score;
this only translates the level back through the same tail (``signals.significance``), for the
last judged window: the smallest count (or rate at that window's sample size) that scores at
or above the level *and* passes every floor. It is computed at scrape time, not per window.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from signals.config import SignalRule
from signals.definitions import SIGNALS, SURGE_BASELINE_FLOOR
from signals.judges import Judgement
from signals.significance import count_surprise, rate_surprise

# Scores are capped at 30 (signals.significance); past this many doublings no count is enough.
_MAX_DOUBLINGS = 40


def threshold_in_unit(signal: str, rule: SignalRule, level: float,
                      j: Judgement | None) -> float | None:
    """The value of ``signal`` at which ``j``'s window would reach ``level``; None when the
    baseline is warming up, or when no value can (a rate over too few samples).

    report_surge's value is the count over the expected count, so its threshold is too."""
    count = _threshold(rule, level, j)
    if count is None or j is None or j.expected is None or SIGNALS[signal].kind != "baseline":
        return count
    return count / max(j.expected, SURGE_BASELINE_FLOOR)


def _threshold(rule: SignalRule, level: float, j: Judgement | None) -> float | None:
    if j is None or j.expected is None:
        return None
    if rule.mode == "baseline_ratio":
        return level * j.expected
    if j.pooled is None:
        return None
    if rule.mode == "count_surprise":
        total, windows = j.pooled
        floor = max(rule.min_samples, math.ceil(rule.min_ratio * j.expected - 1e-9),
                    math.floor(j.expected) + 1)
        count = _smallest_count(floor, level, lambda k: count_surprise(k, total, windows))
        return None if count is None else float(count)
    if rule.surprise_of == "count":
        return _count_of_rate(rule, level, j)
    # rate_surprise: at the judged window's sample size
    n = round(j.den)
    hits, trials = j.pooled
    if n <= 0 or n < rule.min_samples or trials <= 0:
        return None
    p0 = hits / trials
    first = max(0, math.ceil((p0 + rule.min_lift) * n - 1e-9))
    if first > n or rate_surprise(n, n, hits, trials) < level:
        return None
    low, high = first - 1, n
    while high - low > 1:
        mid = (low + high) // 2
        if rate_surprise(mid, n, hits, trials) >= level:
            high = mid
        else:
            low = mid
    return high / n


def _smallest_count(floor: int, level: float, score: Callable[[int], float]) -> int | None:
    """The smallest count at or above ``floor`` that scores ``level`` (``score`` is monotone
    in the count); None if none."""
    def count_ok(k: int) -> bool:
        return score(k) >= level

    high = max(floor, 1)
    for _ in range(_MAX_DOUBLINGS):
        if count_ok(high):
            break
        high *= 2
    else:
        return None
    low = floor - 1  # count_ok is monotone in k: bisect between a miss and a hit
    while high - low > 1:
        mid = (low + high) // 2
        if mid >= floor and count_ok(mid):
            high = mid
        else:
            low = mid
    return high


def _count_of_rate(rule: SignalRule, level: float, j: Judgement) -> float | None:
    """``surprise_of: count`` (appeal_rate): the rate at the window's n whose numerator
    reaches the level as a count and as k of n, and whose rate is ``min_lift`` above the
    baseline rate. The numerator may exceed n (appeals of earlier decisions)."""
    n = round(j.den)
    assert j.pooled is not None
    hits, trials = j.pooled
    if n <= 0 or n < rule.min_samples or trials <= 0 or not j.windows:
        return None
    first = max(0, math.ceil((hits / trials + rule.min_lift) * n - 1e-9))
    if rate_surprise(n, n, hits, trials) < level:  # the k-of-n tail caps the score
        return None
    windows = j.windows
    count = _smallest_count(first, level, lambda k: min(
        count_surprise(k, hits, windows), rate_surprise(k, n, hits, trials)))
    return None if count is None else count / n
