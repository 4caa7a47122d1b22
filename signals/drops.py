"""Drops: decisions that stop, reports that vanish, automated decisions falling to zero.

A window's count against the mean of the area's own trailing windows (``baseline``, one
value per step). While a drop is firing the baseline is frozen, so a long outage does not
teach the detector that silence is normal. A drop means a broken classifier or a stalled
consumer far more often than a change in harm, so it is routed to engineering.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from signals.durations import format_duration
from signals.threat_types import AreaPane, Finding
from signals.threats_config import DropConfig

PREFIX = "drop_"
NOUNS = {"decisions": "decisions", "reports": "reports", "automated": "automated decisions"}


@dataclass
class _DropState:
    window: deque[tuple[int, int]] = field(default_factory=deque)
    current: int = 0
    history: deque[int] = field(default_factory=deque)


class Drops:
    def __init__(self, cfg: DropConfig, pane_s: int) -> None:
        self.cfg = cfg
        self.pane = pane_s
        self._state: dict[tuple[str, str], _DropState] = {}
        self._keep = cfg.baseline // cfg.step

    def reset(self, area: str) -> None:
        for measure in self.cfg.measures:
            self._state.pop((area, measure), None)

    def on_pane(self, area: str, pane: int, data: AreaPane | None) -> None:
        horizon = pane + self.pane - self.cfg.window
        for measure in self.cfg.measures:
            n = data.totals.get(measure, 0) if data is not None else 0
            st = self._state.get((area, measure))
            if st is None:
                if not n:
                    continue
                st = self._state[(area, measure)] = _DropState(
                    history=deque(maxlen=self._keep))
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
            if len(st.history) == self._keep:
                mean = sum(st.history) / self._keep
                fire = mean >= cfg.min_baseline and st.current <= cfg.ratio * mean
                clear = st.current >= cfg.clear_ratio * mean
                detail = (f"{NOUNS[measure]} in {area} fell to {st.current} in the last "
                          f"{format_duration(cfg.window)} against {mean:.0f} on average over "
                          f"the previous {format_duration(cfg.baseline)}: check the "
                          "classifier and the consumers")
                out.append(Finding(signal, measure, float(st.current), cfg.ratio * mean,
                                   fire, clear, detail))
                firing = firing or fire
            if not firing:
                st.history.append(st.current)
            if not st.window and not any(st.history) and not firing:
                del self._state[(area, measure)]  # as a long silence skipped at once would
        return out
