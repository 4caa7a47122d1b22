"""A Bernoulli CUSUM on a rate: evidence that adds up across windows too small to decide.

Two of three overturned appeals against a 12 % baseline scores 1.4 in a window, however
long it goes on. The CUSUM takes each step's new hits of trials (each sample counted once,
unlike overlapping windows) and adds their log-likelihood ratio of "the rate is p1" against
"the rate is still the baseline's p0":

    LLR = k log10(p1 / p0) + (n - k) log10((1 - p1) / (1 - p0)),   S = max(0, S + LLR)

p1 is chosen so that the sum's drift is zero at p0 + min_lift: samples at a rate under the
rule's floor of effect pull it down, above it push it up — the same floor as the window
test. (p1 = p0 + min_lift itself would drift up from about half the lift: on the simulator
that paged a 20-point rise in violation rate, under its 25-point floor, at scale 1.)

S is in log10 units, like the window's surprise score, and shares the rule's levels: S = 3
means the data since the run began are 1,000 times likelier under the lifted rate, and
at the baseline rate S reaches h at most about once in 10^h steps (Wald's bound on the
average run length). The rule's score is the larger of the window's and S.

S is capped one point above the rule's highest level so that it falls back within about as
many samples as it took to rise once the rate is normal again, and is reset to 0 when the
rule's alert resolves, so a new episode needs new evidence.
"""

from __future__ import annotations

import math
from typing import Final

# The baseline rate is estimated with half a hit and half a miss added (Jeffreys), and kept
# this far from 0 and 1 so that the log ratios stay finite.
_EDGE: Final = 1e-6
# p1 to ~1e-12: far below anything the score can show.
_BISECTIONS: Final = 40


def llr(k: int, n: int, p0: float, p1: float) -> float:
    """log10 likelihood ratio of ``k`` hits in ``n`` trials, rate p1 against p0."""
    k = min(k, n)  # appeal_rate: appeals of earlier decisions can outnumber today's
    return k * math.log10(p1 / p0) + (n - k) * math.log10((1.0 - p1) / (1.0 - p0))


def neutral(p0: float, p1: float) -> float:
    """The rate at which the LLR's expected value is 0 (between p0 and p1)."""
    return math.log((1.0 - p0) / (1.0 - p1)) / math.log(p1 * (1.0 - p0) / (p0 * (1.0 - p1)))


def rates(hits: float, trials: float, lift: float) -> tuple[float, float]:
    """(p0, p1) from the baseline's pooled hits of trials and the rule's ``min_lift``:
    p1 such that :func:`neutral` is p0 + lift (p1 = p0 when that is 1 or more: no test)."""
    p0 = min(max((hits + 0.5) / (trials + 1.0), _EDGE), 1.0 - _EDGE)
    floor = p0 + lift
    if floor >= 1.0 - _EDGE:
        return p0, p0
    lo, hi = floor, 1.0 - _EDGE  # neutral() rises with p1 from p0 towards 1
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if neutral(p0, mid) < floor else (lo, mid)
    return p0, (lo + hi) / 2


class Cusum:
    __slots__ = ("cap", "score", "was_alerting")

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.score = 0.0
        self.was_alerting = False

    def update(self, k: int, n: int, p0: float, p1: float) -> float:
        if n > 0 and p1 > p0:
            self.score = min(self.cap, max(0.0, self.score + llr(k, n, p0, p1)))
        return self.score

    def alert_state(self, alerting: bool) -> None:
        """Told after each window whether the rule's alert is pending or firing."""
        if self.was_alerting and not alerting:
            self.score = 0.0
        self.was_alerting = alerting
