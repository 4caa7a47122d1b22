"""Per-pane counters: the mergeable partial aggregate every signal is computed from.

One ``Counts`` holds what one policy area (and market) saw in one pane of event time.
Panes merge by addition, so a window is the sum of its panes and a worker's partials
merge with another worker's the same way.
"""

from __future__ import annotations

from typing import Final

from signals._clock import micros
from signals._tagcount import TagCounts
from signals.events import Appeal, Decision, Event, Report

FIELDS: Final = (
    "reports",
    "regulator_reports",
    "violating",
    "non_violating",
    "escalated",
    "actioned",
    "minor_violating",
    "appeals_filed",
    "appeals_decided",
    "appeals_overturned",
)
_ELEVATED_REPORTERS: Final = frozenset({"regulator", "trusted_flagger"})


class Counts:
    """Counters for one key and pane. Slots and plain ints: this is the per-event hot path."""

    __slots__ = (*FIELDS, "automated", "held", "latencies", "latency_total", "overflow",
                 "owners", "tags")

    def __init__(self) -> None:
        self.reports = 0
        self.regulator_reports = 0
        self.violating = 0
        self.non_violating = 0
        self.escalated = 0
        self.actioned = 0
        self.minor_violating = 0
        self.appeals_filed = 0
        self.appeals_decided = 0
        self.appeals_overturned = 0
        self.latencies: list[float] = []
        # -1: ``latencies`` holds every value. Otherwise a window holds only the largest
        # values that can decide its percentile, out of ``latency_total`` (see
        # signals.definitions.percentile_tail).
        self.latency_total = -1
        # Filled only when the emergent-threat detectors are on (signals.threats), and only
        # in the area-wide key: stream -> tag counts as events come, and the events that
        # name an advertiser while the pane is open, counted in bulk when it closes
        # (signals.tags.settle) into measure -> advertiser -> count.
        self.held: list[Event] | None = None
        self.tags: dict[str, TagCounts] | None = None
        self.owners: dict[str, dict[str, int]] | None = None
        self.automated = 0
        self.overflow = 0  # tags or advertisers a full pane could not keep

    def add_event(self, event: Event) -> None:
        if type(event) is Report:
            self.reports += 1
            if event.reporter in _ELEVATED_REPORTERS:
                self.regulator_reports += 1
        elif type(event) is Decision:
            verdict = event.verdict
            if verdict == "violating":
                self.violating += 1
                if event.minor_audience:
                    self.minor_violating += 1
            elif verdict == "non_violating":
                self.non_violating += 1
            else:
                self.escalated += 1
            if event.action != "none":
                self.actioned += 1
            if event.reported_at is not None:
                # A report stamped after its decision is a producer clock skew, not a negative
                # wait; clamping keeps one bad clock from dragging the percentile below zero.
                self.latencies.append(
                    max(0.0, (micros(event.occurred_at) - micros(event.reported_at)) / 1e6)
                )
        elif type(event) is Appeal:
            if event.stage == "filed":
                self.appeals_filed += 1
            else:
                self.appeals_decided += 1
                if event.outcome == "overturned":
                    self.appeals_overturned += 1

    def merge(self, other: Counts, latencies: bool = True) -> None:
        """Add ``other`` in. ``latencies=False`` skips the one list, for windows whose
        signals need no percentile (copying it was most of a window's cost)."""
        self.reports += other.reports
        self.regulator_reports += other.regulator_reports
        self.violating += other.violating
        self.non_violating += other.non_violating
        self.escalated += other.escalated
        self.actioned += other.actioned
        self.minor_violating += other.minor_violating
        self.appeals_filed += other.appeals_filed
        self.appeals_decided += other.appeals_decided
        self.appeals_overturned += other.appeals_overturned
        if latencies:
            self.latencies.extend(other.latencies)

    @property
    def decisions(self) -> int:
        return self.violating + self.non_violating + self.escalated

    @property
    def events(self) -> int:
        return self.reports + self.decisions + self.appeals_filed + self.appeals_decided

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {name: getattr(self, name) for name in FIELDS}
        out["latencies"] = list(self.latencies)
        # Present only when collected, so the dict form is unchanged with the detectors off.
        if self.tags is not None:
            out["tags"] = {stream: t.to_dict() for stream, t in self.tags.items()}
        if self.owners is not None:
            out["owners"] = self.owners
        if self.automated:
            out["automated"] = self.automated
        if self.overflow:
            out["overflow"] = self.overflow
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object], tag_cap: int = 0) -> Counts:
        """``tag_cap``: the cap of tag tables that go on counting (an open pane's)."""
        counts = cls()
        for name in FIELDS:
            value = data.get(name, 0)
            setattr(counts, name, int(value) if isinstance(value, int) else 0)
        latencies = data.get("latencies", [])
        if isinstance(latencies, list):
            counts.latencies = [float(x) for x in latencies]
        tags = _nested(data.get("tags"))
        if tags is not None:
            counts.tags = {stream: TagCounts(tag_cap, t) for stream, t in tags.items()}
        counts.owners = _nested(data.get("owners"))
        automated, overflow = data.get("automated", 0), data.get("overflow", 0)
        counts.automated = automated if isinstance(automated, int) else 0
        counts.overflow = overflow if isinstance(overflow, int) else 0
        return counts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Counts):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        nonzero = {k: v for k, v in self.to_dict().items() if v}
        return f"Counts({nonzero})"


def _nested(value: object) -> dict[str, dict[str, int]] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): {str(t): int(n) for t, n in v.items()}
            for k, v in value.items() if isinstance(v, dict)}
