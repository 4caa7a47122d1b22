"""Upper-tail probabilities of predictive distributions, as a surprise score (-log10 p).

A score of 3 means "this window's count (or rate) or more would happen once in a thousand
windows if nothing had changed", whatever the area's volume: that is what lets one level fit
a small area and a big one. The baseline is itself an estimate from a limited history, so
the tails are of the *predictive* distributions (negative binomial for counts, beta-binomial
for rates), which are wider than Poisson and binomial when the history is short and equal
them as it grows: a thin history cannot make a small excess look certain.

Own code rather than scipy: two tail sums over at most a few hundred terms, and scipy would
be the only reason for a heavy native dependency in the pure engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

# Tails beyond 1e-30 all mean "certainly not noise"; capping keeps scores finite and sums short.
MAX_SCORE: Final = 30.0
# Stop summing once a term adds less than this share: the score is then exact to ~1e-7.
_EPS: Final = 1e-7


def _score(p: float) -> float:
    if p <= 10.0 ** -MAX_SCORE:
        return MAX_SCORE
    return max(0.0, -math.log10(p))


def count_surprise(k: int, total: float, windows: float) -> float:
    """Surprise of seeing ``k`` or more when ``windows`` baseline windows held ``total``.

    The rate's posterior (Jeffreys prior) is Gamma(total + 1/2, windows), so the next
    window's count is negative binomial with r = total + 1/2, p = windows / (windows + 1).
    0 when ``k`` is at or below the expected count: a score measures excess only.
    """
    if windows <= 0:
        raise ValueError("a count baseline needs at least part of one window")
    r = total + 0.5
    q = 1.0 / (windows + 1.0)  # 1 - p
    if k <= r * q / (1.0 - q):
        return 0.0
    # log pmf at k, then the ratio between successive terms (r + i) / (i + 1) * q.
    log_term = (math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1.0)
                + r * math.log1p(-q) + k * math.log(q))
    return _score(_tail_sum(log_term, lambda i: (r + i) / (i + 1.0) * q, k, None))


def rate_surprise(k: int, n: int, hits: float, trials: float) -> float:
    """Surprise of ``k`` or more of ``n`` when the baseline saw ``hits`` of ``trials``.

    The rate's posterior (Jeffreys prior) is Beta(hits + 1/2, trials - hits + 1/2), so ``k``
    of ``n`` is beta-binomial. 0 when the window's rate is at or below the expected one.
    """
    if n <= 0 or k <= 0:
        return 0.0
    # appeal_rate counts appeals of earlier decisions, so k can exceed n: as extreme as k = n.
    k = min(k, n)
    a = hits + 0.5
    b = max(trials - hits, 0.0) + 0.5
    if k <= n * a / (a + b):
        return 0.0
    log_term = (_log_choose(n, k) + _log_beta(k + a, n - k + b) - _log_beta(a, b))
    return _score(_tail_sum(
        log_term, lambda i: (n - i) / (i + 1.0) * (i + a) / (n - i - 1.0 + b), k, n))


def _tail_sum(log_first: float, ratio: Callable[[int], float], k: int, last: int | None) -> float:
    """Sum of a unimodal pmf from ``k`` (past the mode) upward: terms only shrink."""
    if log_first < -MAX_SCORE * math.log(10) - 5:
        return 0.0
    term = math.exp(log_first)
    total = term
    i = k
    while last is None or i < last:
        term *= ratio(i)
        total += term
        i += 1
        if term <= total * _EPS:
            break
    return min(total, 1.0)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1.0) - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

