"""What the emergent-threat detectors share: one area's pane, a detector's finding, routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Protocol

from signals._tagcount import TagCounts
from signals.counts import Counts

# Who an alert kind goes to: harm alerts to policy on-call, a drop (a stalled consumer, a
# broken classifier) to the engineers who run the pipeline.
POLICY: Final = "policy"
ENGINEERING: Final = "engineering"


@dataclass
class AreaPane:
    """One area's threat inputs for one pane, summed over every source that sent it."""

    tags: dict[str, TagCounts] = field(default_factory=dict)
    owners: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)  # measure -> events of the area
    overflow: int = 0

    def add(self, counts: Counts) -> None:
        """Take the threat fields of ``counts`` (moved out: the evaluator keeps the rest)."""
        if counts.tags:
            for stream, counted in counts.tags.items():
                have = self.tags.get(stream)
                if have is None:
                    self.tags[stream] = counted
                else:
                    have.add_counts(counted)
        _add_nested(self.owners, counts.owners)
        counts.tags = counts.owners = None
        self.overflow += counts.overflow
        for measure, value in (("violations", counts.violating), ("reports", counts.reports),
                               ("appeals", counts.appeals_filed),
                               ("decisions", counts.decisions), ("automated", counts.automated)):
            if value:
                self.totals[measure] = self.totals.get(measure, 0) + value


def _add_nested(into: dict[str, dict[str, int]], part: dict[str, dict[str, int]] | None) -> None:
    if not part:
        return
    for name, counted in part.items():
        have = into.get(name)
        if have is None:
            into[name] = counted
            continue
        for item, n in counted.items():
            have[item] = have.get(item, 0) + n


@dataclass(frozen=True)
class Finding:
    """A detector's verdict on one subject at one window end.

    ``subject`` identifies the episode (a stream and tag, a measure); ``fire`` opens one,
    ``clear`` ends an open one, neither holds the state. ``detail`` is for the episode record
    and annotations only, never a metric label.
    """

    signal: str
    subject: str
    value: float
    threshold: float
    fire: bool
    clear: bool
    detail: str


class Detector(Protocol):
    def on_pane(self, area: str, pane: int, data: AreaPane | None) -> None: ...

    def at_end(self, area: str, end: int, open_subjects: set[str]) -> list[Finding]: ...

    def reset(self, area: str) -> None: ...
