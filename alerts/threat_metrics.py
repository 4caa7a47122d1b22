"""Prometheus exposition of the emergent-threat detectors (:mod:`signals.threats`).

Bounded labels only: the policy area (taxonomy), the alert kind (``signals.threats.ROUTES``),
the stream and measure enums, and the tag of the top-k series (k from config per area).
An advertiser, user or content id is never a label: the share series says how much, the
episode record says who (hashed by default).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts import conventions as c
from signals.drops import Drops
from signals.threats import ROUTES, ThreatDetector


@dataclass
class ThreatSnapshot:
    open: list[tuple[str, str, int]] = field(default_factory=list)
    top: list[tuple[str, str, str, int]] = field(default_factory=list)
    shares: list[tuple[str, str, float]] = field(default_factory=list)
    # (area, measure, window count, reference) of the drop detector's last window end.
    drops: list[tuple[str, str, int, float]] = field(default_factory=list)
    overflow: int = 0


def take_threat_snapshot(detectors: Iterable[ThreatDetector]) -> ThreatSnapshot:
    """Copy what the collector exposes (the driver calls this where it publishes rows)."""
    snap = ThreatSnapshot()
    for detector in detectors:
        counts: dict[tuple[str, str], int] = {}
        for e in detector.episodes:
            if e.ended_at is None:
                counts[(e.policy_area, e.signal)] = counts.get((e.policy_area, e.signal), 0) + 1
        for area in sorted(detector.areas):
            for signal in ROUTES:
                snap.open.append((area, signal, counts.get((area, signal), 0)))
            snap.top.extend((area, s, t, n) for s, t, n in detector.top_tags(area))
            snap.shares.extend((area, m, v) for m, v in detector.top_shares(area))
        for drops in (x for x in detector.detectors if isinstance(x, Drops)):
            snap.drops.extend((area, measure, n, ref)
                              for (area, measure), (n, ref) in sorted(drops.levels.items()))
        snap.overflow += detector.overflow
    return snap


@dataclass(eq=False)  # a registry keys collectors by identity
class ThreatCollector(Collector):
    snapshot: ThreatSnapshot = field(default_factory=ThreatSnapshot)

    def publish(self, detectors: Iterable[ThreatDetector]) -> None:
        self.snapshot = take_threat_snapshot(detectors)

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        state = GaugeMetricFamily(c.THREAT_ALERTS_OPEN,
                                  "Open emergent-threat episodes per area and kind",
                                  labels=c.THREAT_STATE_LABELS)
        for area, signal, n in snap.open:
            state.add_metric([area, signal], n)
        top = GaugeMetricFamily(c.EMERGING_TAG_COUNT,
                                "Top-k tags of the current window per area (count)",
                                labels=c.TOP_TAG_LABELS)
        for area, stream, tag, n in snap.top:
            top.add_metric([area, stream, tag], n)
        share = GaugeMetricFamily(c.ADVERTISER_TOP_SHARE,
                                  "Share of the area's events from its top advertisers",
                                  labels=c.TOP_SHARE_LABELS)
        for area, measure, v in snap.shares:
            share.add_metric([area, measure], v)
        ratio = GaugeMetricFamily(c.DROP_RATIO, "The drop detector's window count over its "
                                  "reference (same time of day, or the trailing mean)",
                                  labels=c.TOP_SHARE_LABELS)
        expected = GaugeMetricFamily(c.DROP_EXPECTED, "The drop detector's reference count "
                                     "for the window", labels=c.TOP_SHARE_LABELS)
        for area, measure, n, ref in snap.drops:
            expected.add_metric([area, measure], ref)
            if ref > 0:  # no ratio to nothing
                ratio.add_metric([area, measure], n / ref)
        overflow = CounterMetricFamily(c.THREAT_PANE_OVERFLOW,
                                       "Tags or advertisers a full pane could not keep")
        overflow.add_metric([], snap.overflow)
        yield from (state, top, share, ratio, expected, overflow)
