"""A count rule's daily shape: how busy each time of day usually is, from previous days.

A trailing hour cannot tell a market waking up (volume x5 within 30 minutes, every morning)
from a surge. The shape can: per slot of the day (``slot`` seconds, e.g. 1h) and day, the
mean count per window, kept for the last ``days`` days. The expected count combines it with
the recent level:

    expected(t) = trailing mean x median over days k of
                  shape(slot of t, k days ago) / shape(trailing windows' slots, k days ago)

so the trailing baseline still says how big the area is now and the shape only says how
much busier this time of day was than the hour before it, on the same day — a platform that
grows from one day to the next does not bias it, and one odd day (an incident that filled a
slot, a holiday) does not move the median once three days are known. Where no day has every
slot the expectation needs, the rule judges against the trailing baseline alone, as before.

A slot is scaled with half an event per slot-day added, so a slot that happened to be empty
on the one day known does not make every event in it today infinitely surprising.

What feeds the shape: a window judged with the shape is left out exactly when the trailing
baseline leaves it out (anomalous, or the alert pending or firing). A window judged without
a shape (the first day of a slot) always feeds it: on that day nothing can tell a daily edge
from an incident, and a shape that never learns the edge would page on it every day. So an
incident on the very first day of history shapes its slot until two more days outvote it.

Memory per rule and area: ``86400 / slot`` x ``days`` means, plus the open slot's sums.
"""

from __future__ import annotations

from typing import Any, Final

DAY: Final = 86_400


class Seasonal:
    __slots__ = ("days", "in_trailing", "means", "min_windows", "offset", "open_at", "open_n",
                 "open_sum", "per_day", "prior", "slot")

    def __init__(self, slot: int, days: int, step: int, window: int) -> None:
        if slot <= 0 or DAY % slot or days < 1:
            raise ValueError("a seasonal slot must divide a day, with at least one day kept")
        self.slot = slot
        self.days = days
        self.per_day = DAY // slot
        # A window belongs to the slot of its middle.
        self.offset = window // 2
        per_slot = max(1, slot // step)
        # A slot-day counts only if at least half its windows fed it.
        self.min_windows = max(1, per_slot // 2)
        self.prior = 0.5 / per_slot
        # Slot-days by absolute index (days since the epoch x slots a day + slot): the mean
        # count per window of the windows that fed it. The last ``days`` days only.
        self.means: dict[int, float] = {}
        self.open_at = -1  # the slot-day being summed
        self.open_sum = 0.0
        self.open_n = 0
        # How many of the trailing baseline's admitted windows lie in each slot-day.
        self.in_trailing: dict[int, int] = {}

    def index(self, end: int) -> int:
        return (end - self.offset) // self.slot

    def learn(self, end: int, count: float) -> None:
        """A window that may shape its slot (see the module's rule for which do)."""
        index = self.index(end)
        if index != self.open_at:
            self._close()
            self.open_at, self.open_sum, self.open_n = index, 0.0, 0
        self.open_sum += count
        self.open_n += 1

    def _close(self) -> None:
        if self.open_at >= 0 and self.open_n >= self.min_windows:
            self.means[self.open_at] = self.open_sum / self.open_n
        horizon = self.open_at - self.days * self.per_day
        for old in [i for i in self.means if i <= horizon]:
            del self.means[old]

    def enter(self, end: int) -> None:
        index = self.index(end)
        self.in_trailing[index] = self.in_trailing.get(index, 0) + 1

    def leave(self, end: int) -> None:
        index = self.index(end)
        left = self.in_trailing[index] - 1
        if left:
            self.in_trailing[index] = left
        else:
            del self.in_trailing[index]

    def factor(self, end: int) -> float | None:
        """How much busier the window ending at ``end`` should be than the trailing
        windows: for each kept day k, (slot of ``end``, k days ago) over the trailing
        windows' slots k days ago, weighted by how many windows lie in each; the median over
        the days that have every slot needed. None where no day has them."""
        if not self.in_trailing:
            return None
        now = self.index(end)
        means, prior, shift = self.means, self.prior, self.per_day
        ratios = []
        for k in range(1, self.days + 1):
            then = means.get(now - k * shift)
            if then is None:
                continue
            weighted = 0.0
            windows = 0
            for index, n in self.in_trailing.items():
                past = means.get(index - k * shift)
                if past is None:
                    break
                weighted += (past + prior) * n
                windows += n
            else:
                ratios.append((then + prior) * windows / weighted)
        if not ratios:
            return None
        ratios.sort()
        mid = len(ratios) // 2
        return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2

    def to_state(self) -> dict[str, Any]:
        return {"means": {str(i): m for i, m in self.means.items()},
                "open": [self.open_at, self.open_sum, self.open_n]}

    def restore(self, state: dict[str, Any]) -> None:
        self.means = {int(i): float(m) for i, m in state["means"].items()}
        self.open_at, self.open_sum, self.open_n = (int(state["open"][0]),
                                                    float(state["open"][1]),
                                                    int(state["open"][2]))
