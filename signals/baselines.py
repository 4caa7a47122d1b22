"""One rule's trailing baseline: what an area's own normal windows looked like.

Each judged window is offered after it was judged; it enters the history only once it no
longer overlaps the window being judged (``delay`` steps later), and only if it was not
anomalous — neither judged past the rule's lowest level nor seen while the rule's alert was
pending or firing, then or when it would enter. So an incident does not teach the baseline
that it is normal, not even through its first sub-threshold minutes.

A shift that lasts longer than :data:`ADAPT_SPANS` baseline spans is taken as the new
normal (a platform does grow); until then it keeps alerting. A baseline with fewer than
half its span of admitted windows is warming up and judges nothing.

A count rule may also keep a daily shape (:mod:`signals.seasonal`) and a rate rule a CUSUM
(:mod:`signals.sequential`); both live here so that one object per rule and area holds,
and snapshots, everything the rule has learned.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from signals.seasonal import Seasonal
from signals.sequential import Cusum

ADAPT_SPANS: Final = 3


class Baseline:
    """Admitted windows as (numerator, denominator): (count, 1), (hits, trials) or (p95, 1)."""

    __slots__ = ("ats", "cusum", "delay", "den_sum", "excluded_run", "extend", "num_sum",
                 "older", "queue", "seasonal", "size", "values", "warm_at")

    def __init__(self, size: int, delay: int, seasonal: Seasonal | None = None,
                 cusum: Cusum | None = None, extend: int = 0) -> None:
        if size < 1 or delay < 0:
            raise ValueError("a baseline needs at least one window and a delay of 0 or more")
        self.size = size
        self.delay = delay
        self.warm_at = max(1, size // 2)
        self.values: deque[tuple[float, float]] = deque()
        self.queue: deque[tuple[float, float, bool, int]] = deque()
        # Window ends of the admitted values (the daily shape needs their time of day).
        self.ats: deque[int] = deque()
        self.seasonal = seasonal
        self.cusum = cusum
        self.excluded_run = 0
        # Up to ``extend`` admitted windows older than the span, newest last: a sparse rate
        # rule pools back into them until its rate is known well enough (signals.judges).
        self.extend = extend
        self.older: deque[tuple[float, float]] = deque()
        # Running sums (judged every window: summing the history each time was most of the
        # cost). Counts and trials are integers, so the sums stay exact.
        self.num_sum = 0.0
        self.den_sum = 0.0

    @property
    def ready(self) -> bool:
        return len(self.values) >= self.warm_at

    def _admit(self, num: float, den: float, at: int) -> None:
        values = self.values
        seasonal = self.seasonal
        if len(values) >= self.size:
            old_num, old_den = values.popleft()
            self.num_sum -= old_num
            self.den_sum -= old_den
            if self.extend:
                self.older.append((old_num, old_den))
                if len(self.older) > self.extend:
                    self.older.popleft()
            old_at = self.ats.popleft()
            if seasonal is not None and old_at >= 0:
                seasonal.leave(old_at)
        values.append((num, den))
        self.ats.append(at)
        if seasonal is not None and at >= 0:
            seasonal.enter(at)
        self.num_sum += num
        self.den_sum += den

    def offer(self, num: float, den: float, anomalous: bool, alerting: bool, at: int = -1,
              shaped: bool = False) -> None:
        """A judged window ending at ``at``; ``alerting``: the rule's alert is pending or
        firing now; ``shaped``: it was judged with the daily shape (see signals.seasonal)."""
        if self.seasonal is not None and at >= 0 and not (shaped and (anomalous or alerting)):
            self.seasonal.learn(at, num)
        if self.cusum is not None:
            self.cusum.alert_state(alerting)
        self.queue.append((num, den, anomalous, at))
        while len(self.queue) > self.delay:
            old_num, old_den, flagged, old_at = self.queue.popleft()
            if (flagged or alerting) and self.excluded_run < ADAPT_SPANS * self.size:
                self.excluded_run += 1
                continue
            if not (flagged or alerting):
                self.excluded_run = 0
            self._admit(old_num, old_den, old_at)

    def pooled(self, overlap: float) -> tuple[float, float]:
        """Sums of numerators and denominators, divided by how often each event is counted
        (``overlap`` = window / step for hopping windows), so they weigh as distinct data."""
        return self.num_sum / overlap, self.den_sum / overlap

    def pooled_back(self, overlap: float, trials_needed: float) -> tuple[float, float]:
        """:meth:`pooled`, then older windows, newest first, until the (overlap-weighted)
        trials reach ``trials_needed`` or the kept windows run out."""
        hits, trials = self.num_sum, self.den_sum
        need = trials_needed * overlap
        if trials < need:
            for num, den in reversed(self.older):
                hits += num
                trials += den
                if trials >= need:
                    break
        return hits / overlap, trials / overlap

    def windows(self, overlap: float) -> float:
        """How many distinct windows the admitted ones amount to (see :meth:`pooled`)."""
        return len(self.values) / overlap

    def mean(self) -> float:
        return self.num_sum / len(self.values) if self.values else 0.0

    def median(self) -> float:
        ordered = sorted(v[0] for v in self.values)
        if not ordered:
            return 0.0
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"values": [list(v) for v in self.values],
                                 "queue": [list(q) for q in self.queue],
                                 "excluded_run": self.excluded_run, "ats": list(self.ats)}
        if self.seasonal is not None:
            state["seasonal"] = self.seasonal.to_state()
        if self.cusum is not None:
            state["cusum"] = [self.cusum.score, self.cusum.was_alerting]
        if self.extend:
            state["older"] = [list(v) for v in self.older]
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], size: int, delay: int,
                   seasonal: Seasonal | None = None, cusum: Cusum | None = None,
                   extend: int = 0) -> Baseline:
        """Restore into a baseline of this shape (``seasonal`` and ``cusum`` fresh ones)."""
        out = cls(size, delay, seasonal, cusum, extend)
        if extend:  # before the span's own windows, which push any overflow behind them
            out.older.extend((float(a), float(b)) for a, b in state.get("older", [])[-extend:])
        # Snapshots from before window ends were kept: -1, unknown (no daily shape for them).
        ats = state.get("ats") or [-1] * len(state["values"])
        for (a, b), at in zip(state["values"], ats, strict=True):
            out._admit(float(a), float(b), int(at))
        out.queue.extend((float(q[0]), float(q[1]), bool(q[2]), int(q[3]) if len(q) > 3
                          else -1) for q in state["queue"])
        out.excluded_run = int(state["excluded_run"])
        if seasonal is not None and "seasonal" in state:
            seasonal.restore(state["seasonal"])
        if cusum is not None and "cusum" in state:
            cusum.score, cusum.was_alerting = float(state["cusum"][0]), bool(state["cusum"][1])
        return out
