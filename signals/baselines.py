"""One rule's trailing baseline: what an area's own normal windows looked like.

Each judged window is offered after it was judged; it enters the history only once it no
longer overlaps the window being judged (``delay`` steps later), and only if it was not
anomalous — neither judged past the rule's lowest level nor seen while the rule's alert was
pending or firing, then or when it would enter. So an incident does not teach the baseline
that it is normal, not even through its first sub-threshold minutes.

A shift that lasts longer than :data:`ADAPT_SPANS` baseline spans is taken as the new
normal (a platform does grow); until then it keeps alerting. A baseline with fewer than
half its span of admitted windows is warming up and judges nothing.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

ADAPT_SPANS: Final = 3


class Baseline:
    """Admitted windows as (numerator, denominator): (count, 1), (hits, trials) or (p95, 1)."""

    __slots__ = ("delay", "den_sum", "excluded_run", "num_sum", "queue", "size", "values",
                 "warm_at")

    def __init__(self, size: int, delay: int) -> None:
        if size < 1 or delay < 0:
            raise ValueError("a baseline needs at least one window and a delay of 0 or more")
        self.size = size
        self.delay = delay
        self.warm_at = max(1, size // 2)
        self.values: deque[tuple[float, float]] = deque()
        self.queue: deque[tuple[float, float, bool]] = deque()
        self.excluded_run = 0
        # Running sums (judged every window: summing the history each time was most of the
        # cost). Counts and trials are integers, so the sums stay exact.
        self.num_sum = 0.0
        self.den_sum = 0.0

    @property
    def ready(self) -> bool:
        return len(self.values) >= self.warm_at

    def _admit(self, num: float, den: float) -> None:
        values = self.values
        if len(values) >= self.size:
            old_num, old_den = values.popleft()
            self.num_sum -= old_num
            self.den_sum -= old_den
        values.append((num, den))
        self.num_sum += num
        self.den_sum += den

    def offer(self, num: float, den: float, anomalous: bool, alerting: bool) -> None:
        """A judged window; ``alerting``: the rule's alert is pending or firing now."""
        self.queue.append((num, den, anomalous))
        while len(self.queue) > self.delay:
            old_num, old_den, flagged = self.queue.popleft()
            if (flagged or alerting) and self.excluded_run < ADAPT_SPANS * self.size:
                self.excluded_run += 1
                continue
            if not (flagged or alerting):
                self.excluded_run = 0
            self._admit(old_num, old_den)

    def pooled(self, overlap: float) -> tuple[float, float]:
        """Sums of numerators and denominators, divided by how often each event is counted
        (``overlap`` = window / step for hopping windows), so they weigh as distinct data."""
        return self.num_sum / overlap, self.den_sum / overlap

    def mean(self) -> float:
        return self.num_sum / len(self.values) if self.values else 0.0

    def median(self) -> float:
        ordered = sorted(v[0] for v in self.values)
        if not ordered:
            return 0.0
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def to_state(self) -> dict[str, Any]:
        return {"values": [list(v) for v in self.values],
                "queue": [list(q) for q in self.queue],
                "excluded_run": self.excluded_run}

    @classmethod
    def from_state(cls, state: dict[str, Any], size: int, delay: int) -> Baseline:
        out = cls(size, delay)
        for a, b in state["values"]:
            out._admit(float(a), float(b))
        out.queue.extend((float(a), float(b), bool(f)) for a, b, f in state["queue"])
        out.excluded_run = int(state["excluded_run"])
        return out
