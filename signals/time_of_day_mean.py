"""A bounded seasonal reference: per time-of-day slot, the mean of the values seen in that
slot on previous days.

One slot per ``slot`` seconds of the day (24 for an hour), each a running mean over about
the last ``days`` days plus today's running sum, so the memory is fixed however long it
runs. Today's values only count from tomorrow on: the reference for a window is always what
the same time of day looked like *before* today. Pure and JSON-ready (lists of numbers).
"""

from __future__ import annotations

from typing import Final

DAY: Final = 86400

# [mean over previous days, days in it (<= cap), today's sum, today's count, today's day]
Slot = list[float]


class TimeOfDayMean:
    def __init__(self, slot_s: int, days: int) -> None:
        self.slot = slot_s
        self.days = days
        self.slots: dict[int, Slot] = {}

    def _index(self, end: int) -> tuple[int, int]:
        return end % DAY // self.slot, end // DAY

    def _fold(self, s: Slot, day: int) -> None:
        """Move the slot's last day into its mean once that day is over."""
        if s[3] and s[4] < day:
            days = min(s[1] + 1, self.days)
            s[0] += (s[2] / s[3] - s[0]) / days
            s[1], s[2], s[3], s[4] = days, 0.0, 0.0, day

    def reference(self, end: int) -> float | None:
        """The slot's mean over previous days, None before a previous day has one."""
        index, day = self._index(end)
        s = self.slots.get(index)
        if s is None:
            return None
        self._fold(s, day)
        return s[0] if s[1] else None

    def add(self, end: int, value: float) -> None:
        index, day = self._index(end)
        s = self.slots.get(index)
        if s is None:
            s = self.slots[index] = [0.0, 0.0, 0.0, 0.0, float(day)]
        self._fold(s, day)
        s[2] += value
        s[3] += 1
        s[4] = day

    def to_state(self) -> dict[str, Slot]:
        return {str(i): list(s) for i, s in sorted(self.slots.items())}

    def restore(self, state: dict[str, list[float]]) -> None:
        self.slots = {int(i): [float(x) for x in s] for i, s in state.items()}
