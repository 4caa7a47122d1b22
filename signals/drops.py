"""Drops: decisions that stop, reports that vanish, automated decisions falling to zero.

A window's count against a reference: with ``seasonal`` on, the mean of the windows that
ended in the same slot of the day (an hour by default) on previous days
(:mod:`signals.time_of_day_mean`), so the nightly fall of a daily cycle is expected, not a drop;
where no previous day has that slot yet, the mean of the area's own trailing windows
(``baseline``, one value per step). While a drop is firing the trailing history is frozen,
so a long outage does not teach the detector that silence is normal, and so is the
seasonal slot. One exception: a drop judged against the trailing mean (no previous day has
this time of day yet) whose window still holds ``min_baseline`` events teaches its slot,
since nothing yet says the fall is not the area's daily pattern; without it an evening
fall (a review shift ending) would page every day, as the slot would never learn the
night. A stop (a window near zero) is never learned. A drop means a broken
classifier or a stalled consumer far more often than a change in harm, so it is routed to
engineering.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from signals.durations import format_duration
from signals.threat_types import AreaPane, Finding
from signals.threats_config import DropConfig
from signals.time_of_day_mean import TimeOfDayMean

PREFIX = "drop_"
NOUNS = {"decisions": "decisions", "reports": "reports", "automated": "automated decisions"}


@dataclass
class _DropState:
    window: deque[tuple[int, int]] = field(default_factory=deque)
    current: int = 0
    history: deque[int] = field(default_factory=deque)
    seasonal: TimeOfDayMean | None = None


class Drops:
    def __init__(self, cfg: DropConfig, pane_s: int) -> None:
        self.cfg = cfg
        self.pane = pane_s
        self._state: dict[tuple[str, str], _DropState] = {}
        self._keep = cfg.baseline // cfg.step
        # (area, measure) -> (window count, reference) at its last window end with a
        # reference: what the dashboards draw as the drop ratio.
        self.levels: dict[tuple[str, str], tuple[int, float]] = {}

    def new_state(self) -> _DropState:
        cfg = self.cfg
        seasonal = TimeOfDayMean(cfg.seasonal_slot, cfg.seasonal_days) if cfg.seasonal else None
        return _DropState(history=deque(maxlen=self._keep), seasonal=seasonal)

    def reset(self, area: str) -> None:
        for measure in self.cfg.measures:
            self._state.pop((area, measure), None)
            self.levels.pop((area, measure), None)

    def on_pane(self, area: str, pane: int, data: AreaPane | None) -> None:
        horizon = pane + self.pane - self.cfg.window
        for measure in self.cfg.measures:
            n = data.totals.get(measure, 0) if data is not None else 0
            st = self._state.get((area, measure))
            if st is None:
                if not n:
                    continue
                st = self._state[(area, measure)] = self.new_state()
            if n:
                st.window.append((pane, n))
                st.current += n
            while st.window and st.window[0][0] < horizon:
                st.current -= st.window.popleft()[1]

    def at_end(self, area: str, end: int, open_subjects: set[str]) -> list[Finding]:
        cfg = self.cfg
        if end % cfg.step:
            return []
        out = []
        for measure in cfg.measures:
            st = self._state.get((area, measure))
            if st is None:
                continue
            signal = PREFIX + measure
            firing = measure in open_subjects
            reference, against, seasonal = self._reference(st, end)
            if reference is not None:
                fire = reference >= cfg.min_baseline and st.current <= cfg.ratio * reference
                clear = st.current >= cfg.clear_ratio * reference
                detail = (f"{NOUNS[measure]} in {area} fell to {st.current} in the last "
                          f"{format_duration(cfg.window)} against {reference:.0f} {against}: "
                          "check the classifier and the consumers")
                out.append(Finding(signal, measure, float(st.current), cfg.ratio * reference,
                                   fire, clear, detail))
                self.levels[(area, measure)] = (st.current, reference)
                firing = firing or fire
            if not firing:
                st.history.append(st.current)
            if st.seasonal is not None and (not firing or (
                    not seasonal and st.current >= cfg.min_baseline)):
                st.seasonal.add(end, st.current)
            if not st.window and not any(st.history) and not firing:
                # As a long silence skipped at once would (ThreatDetector resets the area),
                # so stepping through a silence and skipping it leave the same state.
                del self._state[(area, measure)]
                self.levels.pop((area, measure), None)
        return out

    def _reference(self, st: _DropState, end: int) -> tuple[float | None, str, bool]:
        """The seasonal mean where a previous day has this slot, else the trailing mean;
        and whether it is the seasonal one."""
        cfg = self.cfg
        if st.seasonal is not None:
            seasonal = st.seasonal.reference(end)
            if seasonal is not None:
                return seasonal, (f"at this time of day on previous days (mean of its "
                                  f"{format_duration(cfg.seasonal_slot)} slot)"), True
        # Warm once half the span is known, as the threshold rules are: a first day
        # judged on its last hour rather than not at all.
        held = len(st.history)
        if held and held * 2 >= self._keep:
            span = format_duration(held * cfg.step)
            return sum(st.history) / held, f"on average over the previous {span}", False
        return None, "", False
