"""The alert state machine: inactive -> pending (for ``for``) -> firing -> resolved.

Evaluated once per closed window, in event time, so a backtest and a live run of the same
events decide identically. A window under the minimum sample size can neither start nor
advance an alert; only a value below the clear level (above it, for ``below`` signals)
resolves one, so an alert does not flap around its trigger level.
"""

from __future__ import annotations

from typing import Final, Literal

State = Literal["inactive", "pending", "firing"]
Change = Literal["pending", "firing", "resolved", "cancelled"]
STATE_CODES: Final[dict[str, int]] = {"inactive": 0, "pending": 1, "firing": 2}


class AlertMachine:
    __slots__ = ("peak", "since", "started_at", "state")

    def __init__(self) -> None:
        self.state: State = "inactive"
        self.since = 0
        self.started_at = 0
        self.peak: float = 0.0

    def step(
        self,
        at: int,
        value: float | None,
        n: int,
        *,
        level: float,
        clear: float,
        above: bool,
        min_samples: int,
        for_s: int,
    ) -> Change | None:
        """Advance on the window ending at ``at`` (epoch seconds); return what changed."""
        if self.state == "firing":
            if value is None:
                return None
            if (value > self.peak) if above else (value < self.peak):
                self.peak = value
            if (value < clear) if above else (value > clear):
                self.state = "inactive"
                return "resolved"
            return None
        breach = (
            value is not None
            and n >= min_samples
            and ((value >= level) if above else (value <= level))
        )
        if not breach:
            if self.state == "pending":
                self.state = "inactive"
                return "cancelled"
            return None
        assert value is not None
        change: Change | None = None
        if self.state == "inactive":
            self.state, self.since, self.peak = "pending", at, value
            change = "pending"
        elif (value > self.peak) if above else (value < self.peak):
            self.peak = value
        if at - self.since >= for_s:
            self.state, self.started_at = "firing", at
            return "firing"
        return change
