"""Signal definitions (``shared/contract/SIGNALS.md``): value and sample size per window.

A definition maps one window's merged :class:`Counts` to ``(value, n)``; ``value`` is
``None`` where the contract says a window has no value (a ratio over an empty denominator).
Baseline signals also need the history of earlier windows; the engine supplies it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from signals.counts import Counts

Value = tuple[float | None, int]
Kind = Literal["count", "ratio", "quantile", "baseline"]


@dataclass(frozen=True)
class SignalDef:
    name: str
    kind: Kind
    unit: str
    description: str
    compute: Callable[[Counts], Value]


def _ratio(numerator: int, denominator: int) -> Value:
    if denominator == 0:
        return None, 0
    return numerator / denominator, denominator


def nearest_rank(values: Sequence[float], q: float) -> float:
    """Exact nearest-rank percentile: the smallest value with at least q of the sample at or
    below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


P95: Final = 0.95


def percentile_tail(parts: Sequence[list[float]], q: float) -> tuple[list[float], int]:
    """The values that can be the nearest-rank ``q`` percentile of the union of ``parts``,
    and the union's size. Sorts each part in place (cheap when already sorted, as panes are
    after their first window) and keeps only each part's largest ``n - rank + 1`` values:
    the answer is among them, and sorting those is far cheaper than sorting a window."""
    n = sum(len(p) for p in parts)
    if n == 0:
        return [], 0
    keep = n - max(1, math.ceil(q * n)) + 1
    tail: list[float] = []
    for part in parts:
        part.sort()
        tail.extend(part[-keep:])
    return tail, n


def _p95(c: Counts) -> Value:
    if not c.latencies:
        return None, 0
    if c.latency_total < 0:
        return nearest_rank(c.latencies, P95), len(c.latencies)
    n = c.latency_total
    keep = n - max(1, math.ceil(P95 * n)) + 1
    return sorted(c.latencies)[-keep], n


def _surge_volume(c: Counts) -> Value:
    # The current window's side of report_surge; the engine divides by the baseline.
    return float(c.reports), c.reports


CORE: Final[tuple[SignalDef, ...]] = (
    SignalDef("report_volume", "count", "reports", "number of user reports",
              lambda c: (float(c.reports), c.reports)),
    SignalDef("regulator_reports", "count", "reports",
              "reports filed by regulators or trusted flaggers",
              lambda c: (float(c.regulator_reports), c.regulator_reports)),
    SignalDef("violation_rate", "ratio", "ratio",
              "violating / (violating + non_violating) decisions",
              lambda c: _ratio(c.violating, c.violating + c.non_violating)),
    SignalDef("escalation_rate", "ratio", "ratio", "escalated / all decisions",
              lambda c: _ratio(c.escalated, c.decisions)),
    SignalDef("minor_exposure", "count", "decisions",
              "violating decisions on content that reached or targeted minors",
              lambda c: (float(c.minor_violating), c.minor_violating)),
    SignalDef("appeal_rate", "ratio", "ratio", "appeals filed / decisions with an action",
              lambda c: _ratio(c.appeals_filed, c.actioned)),
    SignalDef("overturn_rate", "ratio", "ratio", "overturned / decided appeals",
              lambda c: _ratio(c.appeals_overturned, c.appeals_decided)),
    SignalDef("review_latency_p95", "quantile", "seconds",
              "95th percentile of decision time minus first report time", _p95),
)
BASELINE: Final[tuple[SignalDef, ...]] = (
    SignalDef("report_surge", "baseline", "ratio",
              "report volume over the mean of the same area's trailing baseline windows",
              _surge_volume),
)
SIGNALS: Final[dict[str, SignalDef]] = {s.name: s for s in (*CORE, *BASELINE)}

# A baseline of zero reports would make any single report an infinite surge; one report per
# window is the floor that keeps quiet areas from paging on their first report.
SURGE_BASELINE_FLOOR: Final = 1.0


def surge(current: float, history: Sequence[float]) -> float:
    baseline = sum(history) / len(history)
    return current / max(baseline, SURGE_BASELINE_FLOOR)
