"""Emerging tags: a tag whose count in the current window jumps far above its own baseline.

Two parts per area and stream, so memory stays bounded however many distinct tags flow by:

- the **current window** is exact: the per-pane tag counts (at most ``pane_cap`` distinct
  per pane, see :mod:`signals.tags`) of the window's panes, kept as they are;
- the **baseline** is a ring of Apache DataSketches frequent-items sketches, one per block
  of ``block`` seconds over ``baseline``. A pane enters the baseline when it leaves the
  current window, so a tag is never compared against itself. A sketch with
  ``lg_max_map_size`` L over N tag occurrences estimates every tag within
  ``epsilon * N``, epsilon = 3.5 / 2**L (``get_epsilon_for_lg_size``); a tag it does not
  track (never seen, or rare) estimates 0.

Candidates are the tags of the current window with at least ``min_count``, found without
summing the window (:func:`signals._tagcount.window_at_least`): a tag with ``min_count``
over ``k`` panes has at least ``ceil(min_count / k)`` in one of them, so each pane is
scanned for those, and only they are counted exactly over the window's panes. (A running
total of the window cost two probes of a large table per pane entry, most of them cache
misses, for a long tail that never comes near ``min_count``.) A candidate fires when its count is at
least ``ratio`` times what its baseline rate predicts for a window (or times
``expected_floor`` for a tag with no baseline). A block is fed to its sketch in sorted tag
order, and the pane counts are merged exactly before that, so the sketches — and every
verdict — are the same however the events were partitioned.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from datasketches import frequent_strings_sketch

from signals._tagcount import TagCounts, window_at_least
from signals.durations import format_duration
from signals.threat_types import AreaPane, Finding
from signals.threats_config import EmergingConfig

SIGNAL = "emerging_tag"


@dataclass
class _Block:
    start: int
    sketch: frequent_strings_sketch


@dataclass
class _StreamState:
    window: deque[tuple[int, TagCounts]] = field(default_factory=deque)  # (pane start, counts)
    blocks: deque[_Block] = field(default_factory=deque)  # sealed, oldest first
    # The block being filled, exact: its panes as they left the window, summed only when
    # the block is sealed into a sketch (adding each pane into a running block table
    # touched every area's large table at every pane close, mostly cache misses).
    block_start: int | None = None
    block: list[TagCounts] = field(default_factory=list)
    first_fed: int | None = None
    fed_until: int | None = None


class EmergingTags:
    def __init__(self, cfg: EmergingConfig, pane_s: int) -> None:
        self.cfg = cfg
        self.pane = pane_s
        self._state: dict[tuple[str, str], _StreamState] = {}
        self.top: dict[str, list[tuple[str, str, int]]] = {}  # area -> (stream, tag, count)

    @property
    def epsilon(self) -> float:
        return float(frequent_strings_sketch.get_epsilon_for_lg_size(self.cfg.lg_max_map_size))

    def reset(self, area: str) -> None:
        for stream in self.cfg.streams:
            self._state.pop((area, stream), None)
        self.top.pop(area, None)

    def on_pane(self, area: str, pane: int, data: AreaPane | None) -> None:
        end = pane + self.pane
        for stream in self.cfg.streams:
            tags = data.tags.get(stream) if data is not None else None
            st = self._state.get((area, stream))
            if st is None:
                if not tags:
                    continue
                st = self._state[(area, stream)] = _StreamState()
            if tags:
                st.window.append((pane, tags))
            self._expire(st, end - self.cfg.window)
            if not st.window and not st.blocks and st.block_start is None:
                # Forgotten entirely, as a long silence skipped at once would be.
                del self._state[(area, stream)]

    def _expire(self, st: _StreamState, horizon: int) -> None:
        """Move the panes that start before ``horizon`` from the window to the baseline."""
        cfg = self.cfg
        while st.window and st.window[0][0] < horizon:
            pane, tags = st.window.popleft()
            if st.first_fed is None:
                st.first_fed = pane
            start = pane // cfg.block * cfg.block
            if st.block_start != start:
                self._seal(st)
                st.block_start = start
            st.block.append(tags)  # nothing else holds the pane's table now
        if st.first_fed is None:
            return
        st.fed_until = horizon
        oldest = horizon - cfg.baseline
        while st.blocks and st.blocks[0].start + cfg.block <= oldest:
            st.blocks.popleft()
        if st.block_start is not None and st.block_start + cfg.block <= oldest:
            st.block_start, st.block = None, []

    def _seal(self, st: _StreamState) -> None:
        """The filled block into a sketch. Tags seen only once in the block are left out:
        the long tail is most of the updates (1.7 us each), and leaving them out lowers a
        tag's baseline by at most one per block, less than ``expected_floor``."""
        if st.block_start is None:
            return
        sketch = frequent_strings_sketch(self.cfg.lg_max_map_size)
        block = _folded(st)
        if block is not None:
            block.feed(sketch.update, 2)  # the block's exact counts, by tag
        st.blocks.append(_Block(st.block_start, sketch))
        st.block_start, st.block = None, []

    def _coverage(self, st: _StreamState) -> int:
        if st.first_fed is None or st.fed_until is None:
            return 0
        cfg = self.cfg
        oldest = (st.fed_until - cfg.baseline) // cfg.block * cfg.block
        return max(0, st.fed_until - max(st.first_fed, oldest))

    def at_end(self, area: str, end: int, open_subjects: set[str]) -> list[Finding]:
        cfg = self.cfg
        if end % cfg.step:
            return []
        out: list[Finding] = []
        top: list[tuple[str, str, int]] = []
        for stream in cfg.streams:
            st = self._state.get((area, stream))
            if st is None:
                continue
            covered = self._coverage(st)
            _folded(st)  # each candidate's block count is then one lookup
            prefix = f"{stream}:"
            held = {s[len(prefix):] for s in open_subjects if s.startswith(prefix)}
            for tag, n in _window_counts(st.window, cfg.min_count, held):
                if n >= cfg.min_count:
                    top.append((stream, tag, n))
                out.append(self._judge(st, stream, tag, n, covered, area))
        top.sort(key=lambda t: (-t[2], t[0], t[1]))
        self.top[area] = top[:cfg.top_k]
        return out

    def _judge(self, st: _StreamState, stream: str, tag: str, n: int, covered: int,
               area: str) -> Finding:
        cfg = self.cfg
        seen = (sum(b.sketch.get_estimate(tag) for b in st.blocks)
                + sum(pane.get(tag) for pane in st.block))
        expected = seen * cfg.window / covered if covered else 0.0
        base = max(expected, cfg.expected_floor)
        level = cfg.ratio * base
        warm = covered >= cfg.min_baseline
        fire = warm and n >= cfg.min_count and n >= level
        clear = n < cfg.clear_ratio * base or n < cfg.min_count / 2
        detail = ""
        if fire:  # only an episode that opens shows it: most candidates never do
            error = sum(b.sketch.epsilon * b.sketch.total_weight + 1 for b in st.blocks)
            detail = (f"tag {tag} in {area} {stream}s: {n} in the last "
                      f"{format_duration(cfg.window)} against {expected:.1f} expected from "
                      f"{format_duration(covered)} of baseline"
                      + (" (never seen before)" if seen == 0 else "")
                      + f"; sketch error at most {error:.0f} per baseline")
        return Finding(SIGNAL, f"{stream}:{tag}", float(n), level, fire, clear, detail)


def _folded(st: _StreamState) -> TagCounts | None:
    """The filling block as one table: its panes added into the first (which nothing else
    holds). Folded when it is read, every ``step``, so each pane is added once, and the
    panes of a step one after the other into the same table."""
    if not st.block:
        return None
    acc = st.block[0]
    if len(st.block) > 1:
        for pane in st.block[1:]:
            acc.add_counts(pane)
        st.block = [acc]
    return acc


def _window_counts(window: deque[tuple[int, TagCounts]], min_count: int,
                   held: set[str]) -> list[tuple[str, int]]:
    """(tag, exact window count) of every tag with at least ``min_count`` in the window and
    of every ``held`` tag (an open episode is judged until it clears), in tag order."""
    tables = [tags for _, tags in window]
    found = dict(window_at_least(tables, min_count))
    for tag in held:
        if tag not in found:
            found[tag] = sum(tags.get(tag) for tags in tables)
    return sorted(found.items())
