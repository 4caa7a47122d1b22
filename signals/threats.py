"""The emergent-threat detectors over closed panes: emerging tags, concentration, drops.

Fed the same closed panes as the :class:`signals.evaluator.Evaluator` (by
:class:`signals.engine.Engine`, or per area by :class:`signals.merge.AreaMerge`). Each area
walks its own pane boundaries, decided only by that area's data, so one detector over every
area and one per area (the partitioned path) emit the same episodes. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from signals.concentration import SIGNAL as CONCENTRATION
from signals.concentration import Concentration
from signals.drops import NOUNS as DROP_MEASURES
from signals.drops import PREFIX as DROP_PREFIX
from signals.drops import Drops
from signals.emerging import SIGNAL as EMERGING
from signals.emerging import EmergingTags
from signals.keys import Bucket, utc
from signals.records import Episode
from signals.tags import TagSpec
from signals.threat_types import ENGINEERING, POLICY, AreaPane, Detector, Finding
from signals.threats_config import ThreatsConfig

SEVERITY: Final = "critical"
# Every alert kind and who it is routed to (alerts/ reads this for rules and dashboards).
ROUTES: Final[dict[str, str]] = {
    EMERGING: POLICY,
    CONCENTRATION: POLICY,
    **{DROP_PREFIX + m: ENGINEERING for m in DROP_MEASURES},
}


class ThreatDetector:
    """Emerging tags, advertiser concentration and drops for the areas it owns."""

    def __init__(self, cfg: ThreatsConfig, pane_s: int, areas: Iterable[str]) -> None:
        cfg.check_pane(pane_s, "threats config")
        self.cfg = cfg
        self.pane = pane_s
        self.areas = frozenset(areas)
        self.emerging = EmergingTags(cfg.emerging, pane_s)
        self.detectors: list[Detector] = []
        if cfg.emerging.enabled:
            self.detectors.append(self.emerging)
        self.concentration = Concentration(cfg.concentration, pane_s, cfg.salt,
                                           cfg.advertiser_ids == "full")
        if cfg.concentration.enabled:
            self.detectors.append(self.concentration)
        if cfg.drops.enabled:
            self.detectors.append(Drops(cfg.drops, pane_s))
        # After this much silence every window and baseline is empty: skipping is exact.
        self._forget = max(cfg.emerging.window + cfg.emerging.baseline + cfg.emerging.block,
                           cfg.concentration.window,
                           cfg.drops.window + cfg.drops.baseline) + max(
            self.pane, cfg.emerging.step, cfg.concentration.step, cfg.drops.step) * 2
        self._pending: dict[str, dict[int, AreaPane]] = {}
        self._closed: dict[str, int] = {}
        self._open: dict[tuple[str, int], dict[str, Episode]] = {}
        self.episodes: list[Episode] = []
        self.late_panes = 0
        self.overflow = 0

    def add_pane(self, pane: int, bucket: Bucket) -> None:
        """Take the threat fields of a closed pane's area-wide counts (several calls for
        one pane, one per source, sum)."""
        for (area, market), counts in bucket.items():
            if market is not None or area not in self.areas:
                continue
            closed = self._closed.get(area)
            if closed is not None and pane < closed:
                self.late_panes += 1
                continue
            panes = self._pending.setdefault(area, {})
            data = panes.get(pane)
            if data is None:
                data = panes[pane] = AreaPane()
            data.add(counts)
            self.overflow += counts.overflow

    def close_through(self, end: int) -> None:
        """Every pane ending at or before ``end`` is final."""
        for area in sorted(self._pending.keys() | self._closed.keys()):
            self._close_area(area, end)

    def _close_area(self, area: str, end: int) -> None:
        pending = self._pending.get(area, {})
        pane = self._closed.get(area)
        if pane is None:
            if not pending:
                return
            pane = min(pending)
            if pane + self.pane > end:
                return  # not final yet: an earlier pane of this area may still come
        while pane + self.pane <= end:
            data = pending.pop(pane, None)
            if data is None and not self._has_open(area):
                # Pending panes past ``end`` are not final yet (a merge gets them early).
                upcoming = min(min(pending), end) if pending else end
                if upcoming - pane >= self._forget:
                    for detector in self.detectors:
                        detector.reset(area)
                    pane = upcoming // self.pane * self.pane
                    continue
            boundary = pane + self.pane
            for i, detector in enumerate(self.detectors):
                detector.on_pane(area, pane, data)
                opened = self._open.setdefault((area, i), {})
                for finding in detector.at_end(area, boundary, set(opened)):
                    self._apply(area, opened, finding, boundary)
            pane = boundary
        self._closed[area] = pane

    def _has_open(self, area: str) -> bool:
        return any(self._open.get((area, i)) for i in range(len(self.detectors)))

    def _apply(self, area: str, opened: dict[str, Episode], f: Finding, end: int) -> None:
        episode = opened.get(f.subject)
        if episode is None:
            if f.fire and (f.signal != EMERGING or len(opened) < self.cfg.emerging.max_open):
                episode = Episode(area, None, f.signal, SEVERITY, utc(end), None,
                                  _num(f.value), _num(f.threshold), detail=f.detail)
                opened[f.subject] = episode
                self.episodes.append(episode)
            return
        if f.clear:
            episode.ended_at = utc(end)
            del opened[f.subject]
            return
        # A drop's peak is its lowest count; everything else peaks high.
        drop = f.signal.startswith(DROP_PREFIX)
        peak = float(episode.peak_value)
        if (f.value < peak) if drop else (f.value > peak):
            episode.peak_value = _num(f.value)

    def top_tags(self, area: str) -> list[tuple[str, str, int]]:
        """The bounded top-k (stream, tag, count) of an area's current window."""
        return list(self.emerging.top.get(area, []))

    def top_shares(self, area: str) -> list[tuple[str, float]]:
        """(measure, share of its top advertisers) at the area's last window end."""
        return sorted(self.concentration.shares.get(area, {}).items())


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


__all__ = ["ROUTES", "Finding", "TagSpec", "ThreatDetector"]
