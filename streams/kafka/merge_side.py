"""The panes side of a worker: pane messages in, signal rows, episodes and metrics out.

Each policy area has an :class:`signals.merge.AreaMerge`; an area's pane messages are on
panes partition :func:`signals.merge.pane_partition` of the area, so the owner of that
partition restores exactly those areas' snapshots.

An area keeps its open alert episodes and its newest ``keep_closed`` closed ones (what
``/episodes`` and ``--episodes-out`` show); every episode is appended to
``--episodes-log`` once when it closes (:meth:`AreaMerge.take_closed`), so the full history
stays available. After a crash, episodes that closed after the last snapshot are appended
again (at least once, as rows are). The emergent-threat detectors' episodes too: the
detector keeps its episodes in one list (``ThreatDetector.episodes``, in the snapshot), and
an episode is appended when it is first seen closed; those already closed in a restored
snapshot were appended by the worker that wrote it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import msgspec
from faust.types import TP

from signals.config import Config
from signals.merge import AreaMerge, decode, pane_partition
from signals.records import Episode, SignalRow, episodes_jsonl
from signals.snapshots import KEEP_CLOSED_EPISODES
from streams.kafka.options import WorkerOptions
from streams.kafka.settings import MERGE_TABLE, KafkaSettings
from streams.kafka.snapshots import Refusals, StateTable, load_state, save_state
from streams.kafka.threat_snapshots import merge_state, restore_threats

log = logging.getLogger("harmwatch.worker")
_encode = msgspec.json.Encoder().encode


class MergeSide:
    """The panes partitions, as a :class:`streams.kafka.reader.Owner`."""

    name = "panes"

    def __init__(self, config: Config, settings: KafkaSettings, table: StateTable,
                 opts: WorkerOptions, on_closed: Callable[[], None],
                 refused: dict[str, int] | None = None,
                 keep_closed: int = KEEP_CLOSED_EPISODES) -> None:
        self.config = config
        self.keep_closed = keep_closed
        self.refusals = Refusals(MERGE_TABLE, {} if refused is None else refused)
        self.snapshot_limit = settings.snapshot_max_bytes
        self.settings = settings
        self.table = table
        self.opts = opts
        self.on_closed = on_closed  # refresh what /metrics shows
        self.sources = settings.sources()
        self.merges: dict[str, tuple[AreaMerge, int]] = {}  # area -> (merge, panes partition)
        # area -> indexes in its detector's episodes of the closed ones already logged
        self._threats_logged: dict[str, set[int]] = {}
        self.late_panes = 0
        self.lock = asyncio.Lock()
        self._touched: set[str] = set()
        self._starts: dict[TP, int] = {}
        self._signals: IO[bytes] | None = None
        if opts.signals_out is not None:
            self._signals = opts.signals_out.open("ab")
        self._episode_log: IO[bytes] | None = None
        if opts.episodes_log is not None:
            self._episode_log = opts.episodes_log.open("ab")

    # --- state ----------------------------------------------------------------------------

    def merge(self, area: str, partition: int) -> AreaMerge:
        have = self.merges.get(area)
        if have is not None:
            return have[0]
        merge = AreaMerge(self.config, area, self.sources, self.keep_closed, self.opts.threats)
        saved = load_state(self.table, area)
        if saved is not None:
            merge.restore(saved)
            restore_threats(merge, saved)
        if merge.threats is not None:
            self._threats_logged[area] = {i for i, e in enumerate(merge.threats.episodes)
                                          if e.ended_at is not None}
        log.info("merge %s (panes partition %d): %s, next offset %d", area, partition,
                 "restored" if saved else "new", merge.next_offset)
        self.merges[area] = (merge, partition)
        return merge

    def save_merges(self, partitions: set[int]) -> None:
        for area, (merge, partition) in self.merges.items():
            if partition in partitions:
                self.refusals.note(area, save_state(self.table, area, partition,
                                                    merge_state(merge), self.snapshot_limit))

    def reconfigure(self, config: Config) -> None:
        """New thresholds for every area this worker merges, and for areas it takes over
        later (a reload never changes the pane or the taxonomy: ConfigWatcher refuses)."""
        self.config = config
        for merge, _ in self.merges.values():
            merge.evaluator.reconfigure(config)

    def forget(self, revoked: Iterable[TP]) -> None:
        gone = {tp.partition for tp in revoked if tp.topic == self.settings.panes_topic}
        for area in [a for a, (_, p) in self.merges.items() if p in gone]:
            del self.merges[area]
            self._threats_logged.pop(area, None)

    # --- merge ----------------------------------------------------------------------------

    def merge_records(self, partition: int, records: Sequence[Any]) -> set[str]:
        """Pane messages of one panes partition in offset order; the areas they touched."""
        touched: set[str] = set()
        for msg in records:
            key, value = msg.key, msg.value
            if not isinstance(key, bytes) or not isinstance(value, bytes):
                continue
            area = key.decode()
            try:
                pane_msg = decode(value)
            except msgspec.DecodeError:
                log.error("skipping an unreadable pane message at panes partition %d, "
                          "offset %d", partition, msg.offset)
                continue
            self.merge(area, partition).apply(msg.offset, pane_msg)
            touched.add(area)
        return touched

    def close_merged(self, areas: Iterable[str]) -> None:
        """Close what the merged frontiers allow; write rows, episodes and metrics."""
        rows: list[SignalRow] = []
        closed: list[Episode] = []
        for area in areas:
            merge = self.merges[area][0]
            merge.advance()
            rows.extend(merge.evaluator.drain_rows())
            merge.evaluator.drain_transitions()
            closed.extend(merge.take_closed())
            closed.extend(self._closed_threats(area, merge))
        if rows and self._signals is not None:
            self._signals.write(b"".join(_encode(r) + b"\n" for r in rows))
            self._signals.flush()
        if closed and self._episode_log is not None:
            self._episode_log.write(episodes_jsonl(closed, self.config.digest))
            self._episode_log.flush()
        self.late_panes = sum(m.late_panes for m, _ in self.merges.values())
        self.on_closed()
        if self.opts.episodes_out is not None:
            self._write_episodes(self.opts.episodes_out)

    def _closed_threats(self, area: str, merge: AreaMerge) -> list[Episode]:
        """Threat episodes of ``area`` that closed since the last call."""
        if merge.threats is None:
            return []
        logged = self._threats_logged.setdefault(area, set())
        out = []
        for i, episode in enumerate(merge.threats.episodes):
            if episode.ended_at is not None and i not in logged:
                logged.add(i)
                out.append(episode)
        return out

    def episodes(self) -> list[Episode]:
        out = [e for m, _ in self.merges.values()
               for e in [*m.evaluator.episodes, *(m.threats.episodes if m.threats else [])]]
        return sorted(out, key=lambda e: (e.started_at, e.policy_area, e.market or "",
                                          e.signal, e.severity))

    def _write_episodes(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(episodes_jsonl(self.episodes(), self.config.digest))
        os.replace(tmp, path)

    # --- Owner (streams.kafka.reader) -----------------------------------------------------

    def topics(self) -> list[str]:
        return [self.settings.panes_topic]

    def take_over(self, tps: Sequence[TP]) -> dict[TP, int]:
        n = self.settings.n_pane_partitions
        starts = {}
        for tp in tps:
            merges = [self.merge(area, tp.partition) for area in self.config.areas
                      if pane_partition(area, n) == tp.partition]
            starts[tp] = min((m.next_offset for m in merges), default=0)
        self._starts.update(starts)
        return starts

    def covered(self, tp: TP) -> int:
        # Offsets between the smallest and an area's own next offset are read again, and
        # that area skips them: only below the smallest is the whole partition covered.
        return self._starts.get(tp, 0)

    async def process(self, tp: TP, records: Sequence[Any]) -> None:
        self._touched |= self.merge_records(tp.partition, records)

    async def after_batch(self, tps: Sequence[TP]) -> None:
        touched, self._touched = self._touched, set()
        self.close_merged(touched)

    async def snapshot(self, tps: Sequence[TP], final: bool = False) -> list[TP]:
        self.save_merges({tp.partition for tp in tps})
        return []

    def needs_snapshot(self, tps: Sequence[TP]) -> list[TP]:
        return []

    def release(self, tps: Sequence[TP]) -> None:
        self.forget(tps)
