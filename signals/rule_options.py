"""The options of relative rules beyond their mode: a daily shape, a sequential test, and
what a rate's tail is of (``surprise_of``).

Apart from ``signals.config`` (which imports this) so that the rule model stays one screen;
typed by a protocol so that there is no import cycle.
"""

from __future__ import annotations

from typing import Final, Protocol

from signals.durations import format_duration

# Dumped only when set, so that a rule without them keeps its config digest.
OPTIONAL_DEFAULTS: Final[dict[str, object]] = {"seasonal_s": None, "seasonal": None,
                                               "seasonal_days": 7, "sequential": "none",
                                               "surprise_of": "rate", "baseline_max_s": None,
                                               "baseline_max": None}


class _Rule(Protocol):
    @property
    def mode(self) -> str: ...
    @property
    def step(self) -> int: ...
    @property
    def seasonal_s(self) -> int | None: ...
    @property
    def seasonal_days(self) -> int: ...
    @property
    def sequential(self) -> str: ...
    @property
    def min_lift(self) -> float: ...
    @property
    def surprise_of(self) -> str: ...
    @property
    def baseline_s(self) -> int | None: ...
    @property
    def baseline_max_s(self) -> int | None: ...


def option_problem(rule: _Rule) -> str | None:
    """What is wrong with a relative rule's seasonal / sequential options: "field: why; fix"."""
    if rule.seasonal_s is not None:
        if rule.mode != "count_surprise":
            return "seasonal: only count_surprise keeps a daily shape; remove it"
        if 86_400 % rule.seasonal_s or rule.seasonal_s % rule.step:
            return (f"seasonal: {format_duration(rule.seasonal_s)} must divide a day and be a "
                    f"whole number of steps ({format_duration(rule.step)}); use e.g. 30m or 1h")
    elif rule.seasonal_days != 7:
        return "seasonal_days: only a seasonal rule keeps days; add seasonal: 1h or remove it"
    if rule.sequential != "none":
        if rule.mode != "rate_surprise":
            return "sequential: only rate_surprise runs a CUSUM; remove it"
        if rule.min_lift <= 0:
            return ("min_lift: sequential: cusum tests the baseline rate against it plus "
                    "min_lift; set min_lift above 0 (e.g. 0.2)")
    if rule.baseline_max_s is not None:
        if rule.mode != "rate_surprise" or rule.min_lift <= 0:
            return ("baseline_max: only rate_surprise with min_lift above 0 pools back until "
                    "its rate is known to a tenth of min_lift; remove it or set min_lift")
        if rule.baseline_max_s % rule.step or rule.baseline_max_s <= (rule.baseline_s or 0):
            return (f"baseline_max: {format_duration(rule.baseline_max_s)} must be longer than "
                    "baseline and a whole number of steps; use e.g. 4h")
    if rule.surprise_of != "rate":
        if rule.mode != "rate_surprise":
            return "surprise_of: only rate_surprise judges a rate's numerator; remove it"
        if rule.baseline_max_s is not None:
            return ("baseline_max: the count tail pools the span's own windows; remove "
                    "baseline_max or surprise_of")
        if rule.sequential != "none":
            return ("surprise_of: count judges appeals as a count, while sequential: cusum "
                    "tests k of n; remove one of them")
    return None
