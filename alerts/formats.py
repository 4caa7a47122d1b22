"""Value formats of the alert texts: the Go template pipe Prometheus runs and its exact
Python twin (which the promtool cases use to write the rendered text they expect)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from signals.definitions import SIGNALS


def go_g4(v: float) -> str:
    # Go's %.4g and Python's .4g agree on finite floats (both print the shortest of %e/%f).
    return format(v, ".4g")


def go_humanize_duration(v: float) -> str:
    """Python port of Prometheus' ``humanizeDuration`` template function."""
    if math.isnan(v) or math.isinf(v):
        return go_g4(v)
    if v == 0:
        return f"{go_g4(v)}s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        whole = int(abs(v))
        secs, mins = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {secs}s"
        if hours:
            return f"{sign}{hours}h {mins}m {secs}s"
        if mins:
            return f"{sign}{mins}m {secs}s"
        return f"{sign}{go_g4(abs(v))}s"
    return f"{go_g4(v * 1000)}ms" if abs(v) >= 1e-3 else f"{go_g4(v * 1e6)}us"


@dataclass(frozen=True)
class ValueFormat:
    pipe: str  # Go template functions applied to a float
    py: Callable[[float], str]


FORMATS: Final[dict[str, ValueFormat]] = {
    "count": ValueFormat('printf "%.4g"', go_g4),
    "ratio": ValueFormat("humanizePercentage", lambda v: f"{go_g4(v * 100)}%"),
    "baseline": ValueFormat('printf "%.4gx"', lambda v: f"{go_g4(v)}x"),
    "quantile": ValueFormat("humanizeDuration", go_humanize_duration),
}


def value_format(signal: str) -> ValueFormat:
    return FORMATS[SIGNALS[signal].kind]



# A relative rule's score (surprise or ratio) is a plain number whatever the signal.
SCORE_FORMAT: Final = FORMATS["count"]


def expected_format(signal: str) -> ValueFormat:
    """The baseline's expected value is in the signal's own unit; report_surge's is a count."""
    kind = SIGNALS[signal].kind
    return FORMATS["count" if kind == "baseline" else kind]
