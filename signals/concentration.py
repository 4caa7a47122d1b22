"""Advertiser concentration: the share of an area's violations, reports or appeals in a
window that comes from its top few advertisers, and a new entrant into that top set.

Counts per advertiser are exact for the window (at most ``pane_cap`` distinct per pane). The
advertiser id never leaves this module except in an episode's ``detail``, hashed by default
(sha256 with the configured salt) or in full when ``advertiser_ids: full``.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

from signals.durations import format_duration
from signals.threat_types import AreaPane, Finding
from signals.threats_config import ConcentrationConfig

SIGNAL = "advertiser_concentration"
NOUNS = {"violations": "violating ads", "reports": "reports", "appeals": "appeals"}
_ONE = {1: "one advertiser accounts", 2: "two advertisers account", 3: "three advertisers account"}


@dataclass
class _MeasureState:
    window: deque[tuple[int, dict[str, int], int]] = field(default_factory=deque)
    current: dict[str, int] = field(default_factory=dict)
    total: int = 0
    previous_top: frozenset[str] = frozenset()


class Concentration:
    def __init__(self, cfg: ConcentrationConfig, pane_s: int, salt: str,
                 full_ids: bool) -> None:
        self.cfg = cfg
        self.pane = pane_s
        self.salt = salt
        self.full_ids = full_ids
        self._state: dict[tuple[str, str], _MeasureState] = {}
        self.shares: dict[str, dict[str, float]] = {}  # area -> measure -> top share

    def reset(self, area: str) -> None:
        for measure in self.cfg.measures:
            self._state.pop((area, measure), None)
        self.shares.pop(area, None)

    def shown(self, advertiser: str) -> str:
        if self.full_ids:
            return advertiser
        digest = hashlib.sha256((self.salt + advertiser).encode()).hexdigest()
        return f"sha256:{digest[:16]}"

    def on_pane(self, area: str, pane: int, data: AreaPane | None) -> None:
        horizon = pane + self.pane - self.cfg.window
        for measure in self.cfg.measures:
            owners = data.owners.get(measure) if data is not None else None
            total = data.totals.get(measure, 0) if data is not None else 0
            st = self._state.get((area, measure))
            if st is None:
                if not total:
                    continue
                st = self._state[(area, measure)] = _MeasureState()
            if total or owners:
                owned = owners or {}
                st.window.append((pane, owned, total))
                st.total += total
                for adv, n in owned.items():
                    st.current[adv] = st.current.get(adv, 0) + n
            while st.window and st.window[0][0] < horizon:
                _, owned, total = st.window.popleft()
                st.total -= total
                for adv, n in owned.items():
                    left = st.current[adv] - n
                    if left:
                        st.current[adv] = left
                    else:
                        del st.current[adv]

    def at_end(self, area: str, end: int, open_subjects: set[str]) -> list[Finding]:
        cfg = self.cfg
        if end % cfg.step:
            return []
        out = []
        for measure in cfg.measures:
            st = self._state.get((area, measure))
            if st is None:
                continue
            # Ties broken by id so that every partitioning picks the same top set.
            top = sorted(st.current.items(), key=lambda kv: (-kv[1], kv[0]))[:cfg.top_n]
            held = sum(n for _, n in top)
            share = held / st.total if st.total else 0.0
            ids = frozenset(a for a, _ in top)
            entrants = sorted(ids - st.previous_top) if st.previous_top else []
            st.previous_top = ids
            self.shares.setdefault(area, {})[measure] = round(share, 4)
            if not top and measure not in open_subjects:
                if not st.window:
                    del self._state[(area, measure)]
                continue
            fire = st.total >= cfg.min_events and share >= cfg.share
            clear = st.total < cfg.min_events or share < cfg.clear_share
            who = ", ".join(self.shown(a) for a, _ in top)
            lead = _ONE.get(len(top), f"{len(top)} advertisers account")
            detail = (f"{lead} for {share * 100:.0f} % of {NOUNS[measure]} in {area} "
                      f"({held} of {st.total} in {format_duration(cfg.window)}); "
                      f"advertiser {who}"
                      + (f"; new in the top set: {', '.join(self.shown(a) for a in entrants)}"
                         if entrants else ""))
            out.append(Finding(SIGNAL, measure, round(share, 4), cfg.share, fire, clear,
                               detail))
        return out
