"""One policy area's merged view over every source partition (see :mod:`signals.merge`).

It sums the partial panes of every source partition and closes a pane only when every
source partition has announced a frontier past it; an area's snapshot stores the next
panes-topic offset it has not applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from signals.config import Config
from signals.counts import Counts
from signals.evaluator import Evaluator
from signals.keys import Bucket, key_of
from signals.pane_messages import NEG_INF, PaneMessage, group_watermark
from signals.records import Episode
from signals.snapshots import KEEP_CLOSED_EPISODES, SnapshotSize, keep_recent, snapshot_size
from signals.threats import ThreatDetector
from signals.threats_config import ThreatsConfig


class AreaMerge:
    """One policy area's merged view over every source partition.

    ``keep_closed``: closed alert episodes kept (in memory and in the snapshot) besides the
    open ones; older ones have been handed out by :meth:`take_closed` when they closed.
    Rows, alert states and open episodes never depend on them, so the bound changes
    nothing the worker emits, only how far back ``evaluator.episodes`` reaches.
    """

    def __init__(self, config: Config, area: str, sources: Iterable[str],
                 keep_closed: int = KEEP_CLOSED_EPISODES,
                 threats: ThreatsConfig | None = None) -> None:
        self.area = area
        self.threats = None if threats is None else ThreatDetector(threats, config.pane_s, [area])
        self.keep_closed = keep_closed
        self._closed_out: list[Episode] = []
        self._open: list[Episode] = []
        self.sources = tuple(sources)
        self.evaluator = Evaluator(config, areas=[area])
        self.frontier: dict[str, float] = {}
        self.firsts: dict[str, int] = {}
        # Sources whose latest message was flagged idle: advisory, see group_watermark.
        self.idle: set[str] = set()
        self.next_offset = 0  # panes-topic offset not yet applied
        # Partial panes that arrived after the merged view closed them. Stays 0 now that no
        # source is skipped (a source never sends a pane behind its own frontier); kept as
        # the alarm for a broken invariant.
        self.late_panes = 0

    def apply(self, offset: int, msg: PaneMessage) -> bool:
        """Apply one pane message; False when it was already applied or is stale."""
        if offset < self.next_offset:
            return False
        self.next_offset = offset + 1
        src = msg.src
        if msg.idle:
            self.idle.add(src)
        else:
            self.idle.discard(src)
        if msg.first is not None:
            have = self.firsts.get(src)
            self.firsts[src] = msg.first if have is None else min(have, msg.first)
        known = self.frontier.get(src, NEG_INF)
        if msg.to is None or msg.to <= known:
            return False
        add = self.evaluator.add_pane
        for pane_text, keyed in msg.panes.items():
            pane = int(pane_text)
            if pane < known:
                continue
            bucket: Bucket = {key_of(k): Counts.from_dict(c) for k, c in keyed.items()}
            if self.threats is not None:
                self.threats.add_pane(pane, bucket)
            if not add(pane, bucket):
                self.late_panes += 1
        self.frontier[src] = msg.to
        return True

    def merged_frontier(self) -> float:
        """Every source is waited for, idle or not: a pane is final only when each source
        has closed it itself."""
        return min((self.frontier.get(s, NEG_INF) for s in self.sources), default=NEG_INF)

    def group_watermark(self, quiet: str) -> float | None:
        """The watermark a quiet, caught-up source may be advanced to; see
        :func:`group_watermark`."""
        return group_watermark(self.frontier, self.sources, self.idle, quiet)

    def advance(self) -> None:
        end = self.merged_frontier()
        if end == NEG_INF:
            return
        if self.firsts:
            self.evaluator.begin_at(min(self.firsts.values()))
        episodes = self.evaluator.episodes
        known = len(episodes)
        self.evaluator.close_through(int(end))
        if self.threats is not None:
            self.threats.close_through(int(end))
        # Open at the last advance and closed since (here or by a reconfigure), or opened
        # and closed within this one; new episodes are appended, never inserted.
        self._closed_out.extend(e for e in self._open if e.ended_at is not None)
        self._closed_out.extend(e for e in episodes[known:] if e.ended_at is not None)
        self._open = [e for e in episodes if e.ended_at is None]
        self._bound()

    def _bound(self) -> None:
        kept = keep_recent(self.evaluator.episodes, self.keep_closed)
        if kept is not self.evaluator.episodes:
            self.evaluator.episodes[:] = kept  # in place: drivers may hold the list

    def take_closed(self) -> list[Episode]:
        """Episodes that closed since the last call (to append to a log). After a restore,
        those that closed after its snapshot come again, as rows do (at least once)."""
        out, self._closed_out = self._closed_out, []
        return out

    def snapshot_size(self) -> SnapshotSize:
        return snapshot_size(self.to_state())

    def to_state(self) -> dict[str, Any]:
        self._bound()
        return {
            "evaluator": self.evaluator.to_state(),
            "frontier": self.frontier,
            "firsts": self.firsts,
            "idle": sorted(self.idle),
            "next_offset": self.next_offset,
            "late_panes": self.late_panes,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.evaluator.restore(state["evaluator"])
        self.frontier = {k: float(v) for k, v in state["frontier"].items()}
        self.firsts = {k: int(v) for k, v in state["firsts"].items()}
        self.idle = set(state.get("idle", ()))
        self.next_offset = int(state["next_offset"])
        self.late_panes = int(state["late_panes"])
        self._closed_out = []
        self._open = [e for e in self.evaluator.episodes if e.ended_at is None]
        self._bound()  # a snapshot written before the bound
