"""Partition pre-aggregation and the per-area merge: the streaming path without Faust.

Kafka-free and clock-free (the worker passes its wall clock in), so it can be tested
against the single-engine backtest:

- :class:`SourcePartition` wraps one :class:`signals.ingest.Ingest` per source partition
  (``decisions:3``) with the offsets it covers. Closed panes are split by policy area into
  :class:`PaneMessage` s (one per area whenever the partition's frontier moves), which the
  worker publishes on the internal panes topic keyed by area.
- :class:`AreaMerge` (in :mod:`signals.area_merge`) holds one
  :class:`signals.evaluator.Evaluator` restricted to one area. It sums the partials of
  every source partition and closes a pane only when every source partition has
  announced a frontier past it: none is ever skipped, so no pane closes without the data
  a source still holds for it.

A quiet source partition moves the merge by moving its own frontier: the worker writes a
watermark control record into that partition (:func:`watermark_headers`) carrying the
group's watermark (:meth:`AreaMerge.group_watermark`, what the other, active partitions
have closed). The record has an offset in the partition's own log, so whoever owns the
partition applies it at the same place (a frozen ex-owner's record lands after the backlog
its successor is reading), and an event behind it is counted *late* at the source, never
dropped at the merge.

Recovery rules (see docs/streaming.md): a partition's snapshot stores ``next_offset``, so a
redelivered message the snapshot already covers is skipped; pane messages are idempotent
per source (a message whose frontier is not ahead of what the merge saw from that source
is ignored), so re-publishing after a crash cannot count twice. An area's snapshot stores
the next panes-topic offset it has not applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from signals.admission import admitted, future_limit
from signals.area_merge import AreaMerge
from signals.config import Config
from signals.events import Event, Rejected
from signals.ingest import COUNTED, DUPLICATE, LATE, Ingest, Outcome, Tally
from signals.keys import Bucket, key_str
from signals.pane_messages import (
    NEG_INF,
    WATERMARK_HEADER,
    PaneDicts,
    PaneMessage,
    decode,
    encode,
    pane_partition,
    source_id,
    watermark_headers,
)
from signals.snapshots import SnapshotSize, snapshot_size
from signals.threats import TagSpec

__all__ = ["WATERMARK_HEADER", "AreaMerge", "PaneMessage", "SourcePartition", "decode",
           "encode", "pane_partition", "source_id", "watermark_headers"]


class SourcePartition:
    """Dedupe, lateness and panes for one source partition, plus the offsets covered."""

    def __init__(self, config: Config, source: str, areas: Iterable[str],
                 max_future_s: float | None = None, threats: TagSpec | None = None) -> None:
        """``max_future_s``: see :mod:`signals.admission` (then :meth:`feed_batch` takes
        the driver's ``now``); ``threats``: see :class:`signals.ingest.Ingest`."""
        self.source = source
        self.max_future_s = max_future_s
        self.areas = tuple(areas)
        self.ingest = Ingest(config, on_close=self._closed, threats=threats)
        self.next_offset = 0  # the first offset this state does not cover
        self.first_pane: int | None = None
        self.announced: float = NEG_INF  # frontier last sent to the merge
        self.idle_announced = False
        self._quiet = False  # the frontier last moved by a watermark record, not by events
        self._outbox: dict[str, PaneDicts] = {}
        # Source offsets where the older and the younger dedupe generation began: replaying
        # the log from the first one rebuilds every id the engine still remembers, so a
        # snapshot need not carry them (at 50k events/s they would not fit a Kafka record).
        self.id_offsets: tuple[int, int] | None = None
        self._replay = False

    def _closed(self, pane: int, bucket: Bucket, closed_until: int) -> None:
        if not bucket:
            return
        if self.first_pane is None or pane < self.first_pane:
            self.first_pane = pane
        for key, counts in bucket.items():
            per_area = self._outbox.setdefault(key[0], {})
            per_area.setdefault(str(pane), {})[key_str(key)] = counts.to_dict()

    def feed(self, offset: int, raw: bytes, tally: Tally,
             now: float | None = None) -> Outcome | Rejected | None:
        """One message. ``None``: already covered by this state (a redelivery)."""
        if offset < self.next_offset:
            return None
        ingest = self.ingest
        counted, duplicates = ingest.counted, ingest.duplicates
        rejected = self.feed_batch(((offset, raw),), tally, now)
        if rejected:
            return rejected[0][1]
        if ingest.counted != counted:
            return COUNTED
        return DUPLICATE if ingest.duplicates != duplicates else LATE

    def feed_batch(self, records: Iterable[tuple[int, bytes]], tally: Tally,
                   now: float | None = None) -> list[tuple[int, Rejected]]:
        """Messages of this partition in offset order; returns the rejected ones.

        Offsets this state already covers (a redelivery) are skipped. The valid events
        go to the engine's batch loop in one call. ``now`` (the driver's clock at this
        read) is the future-date guard's reference, so a re-read after a crash may judge
        an event differently; :meth:`feed_sent` does not.
        """
        limit = future_limit(self.max_future_s, now)
        return self._feed(((o, raw, limit) for o, raw in records), tally)

    def feed_sent(self, records: Iterable[tuple[int, bytes, float]],
                  tally: Tally) -> list[tuple[int, Rejected]]:
        """Like :meth:`feed_batch`, each message with the time it was sent (its Kafka
        record timestamp, in seconds): an event dated more than ``max_future_s`` after it
        is rejected. The timestamp is part of the record, so every read of an offset —
        the first, a re-read after a crash, a new owner's — decides the same."""
        ahead = self.max_future_s
        if ahead is None:
            return self._feed(((o, raw, None) for o, raw, _ in records), tally)
        return self._feed(((o, raw, sent + ahead) for o, raw, sent in records), tally)

    def _feed(self, records: Iterable[tuple[int, bytes, float | None]],
              tally: Tally) -> list[tuple[int, Rejected]]:
        """``records``: offset, message and the newest admissible event time (or None)."""
        rejected: list[tuple[int, Rejected]] = []
        events: list[Event] = []
        offsets: list[int] = []
        first = -1
        for offset, raw, limit in records:
            if offset < self.next_offset:
                continue
            if first < 0:
                first = offset
            self.next_offset = offset + 1
            event = admitted(raw, limit)
            if type(event) is Rejected:
                rejected.append((offset, event))
                continue
            assert not isinstance(event, Rejected)
            events.append(event)
            offsets.append(offset)
        if first >= 0:
            self._quiet = False
            rotations = self.ingest.rotations
            self.ingest.ingest_batch(events, tally)
            self._note_rotations(self.ingest.rotations - rotations, events, offsets, first)
        return rejected

    def _note_rotations(self, turned: int, events: list[Event], offsets: list[int],
                        first: int) -> None:
        """Where the dedupe generations began, exactly: the offset after the event that
        turned each (:attr:`Ingest.rotated_after`), so a replay rebuilds the very sets."""
        if self.id_offsets is None:
            self.id_offsets = (first, first)
        if not turned:
            return
        before, last = self.ingest.rotated_after

        def after(event: Event | None) -> int:
            for i in range(len(events) - 1, -1, -1):
                if events[i] is event:
                    return offsets[i] + 1
            raise AssertionError("a rotation outside the batch that turned it")

        young = after(last)
        self.id_offsets = (self.id_offsets[1] if turned == 1 else after(before), young)

    def advance(self, offset: int, watermark: float) -> bool:
        """A watermark control message: no more events before ``watermark`` will come."""
        if offset < self.next_offset:
            return False
        self.next_offset = offset + 1
        before = self.ingest.closed_until
        self.ingest.close_through(watermark)  # never turns the dedupe generations
        if self.ingest.closed_until > before:
            self._quiet = True
        return True

    def skip(self, offset: int) -> None:
        self.next_offset = max(self.next_offset, offset + 1)

    def take_messages(self, force: bool = False) -> list[tuple[str, PaneMessage]]:
        """Messages for the merge (area, message) when the frontier moved (or ``force``)."""
        closed = self.ingest.closed_until
        if not force and (closed == NEG_INF or closed <= self.announced):
            return []
        out = self._outbox
        self._outbox = {}
        self.announced = closed
        self.idle_announced = False
        to = None if closed == NEG_INF else closed
        return [(area, PaneMessage(self.source, to, self.first_pane, out.get(area, {}),
                                   idle=self._quiet))
                for area in self.areas]

    def idle_watermark(self, group: float | None) -> float | None:
        """The watermark record to write into this quiet, caught-up partition, given the
        group's watermark (:meth:`AreaMerge.group_watermark`); None when it would close
        nothing."""
        if group is None:
            return None
        end = int(group // self.ingest.pane) * self.ingest.pane
        return float(end) if end > self.ingest.closed_until else None

    def idle_messages(self) -> list[tuple[str, PaneMessage]]:
        """An advisory notice (the frontier already announced, flagged idle): it marks the
        source as quiet for :meth:`AreaMerge.group_watermark` and moves nothing. To let the
        merge pass a quiet partition, write a watermark record into it instead."""
        self.idle_announced = True
        to = None if self.announced == NEG_INF else self.announced
        return [(area, PaneMessage(self.source, to, self.first_pane, {}, idle=True))
                for area in self.areas]

    def snapshot_size(self, with_ids: bool = False) -> SnapshotSize:
        """What :meth:`to_state` would weigh as one record (pane messages taken first)."""
        return snapshot_size(self.to_state(with_ids=with_ids))

    def to_state(self, with_ids: bool = True) -> dict[str, Any]:
        """``with_ids=False``: the owner re-reads the log from :meth:`replay_from` with
        :meth:`rebuild_ids` after a restore."""
        assert not self._outbox, "publish pane messages before taking a snapshot"
        return {
            "ingest": self.ingest.to_state(with_ids=with_ids),
            "next_offset": self.next_offset,
            "first_pane": self.first_pane,
            "announced": None if self.announced == NEG_INF else self.announced,
            "id_offsets": None if with_ids or self.id_offsets is None else list(self.id_offsets),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.ingest.restore(state["ingest"])
        self.next_offset = int(state["next_offset"])
        self.first_pane = state["first_pane"]
        ann = state["announced"]
        self.announced = NEG_INF if ann is None else float(ann)
        self._outbox = {}
        ids = state.get("id_offsets")
        self.id_offsets = None if ids is None else (int(ids[0]), int(ids[1]))
        self._replay = ids is not None

    @property
    def replaying(self) -> bool:
        """Restored from an id-less snapshot and the ids are not all back yet."""
        return self._replay

    def replay_from(self) -> int:
        """The offset to read from: the older id generation's start while replaying."""
        if self._replay and self.id_offsets is not None:
            return min(self.id_offsets[0], self.next_offset)
        return self.next_offset

    def rebuild_ids(self, records: Iterable[tuple[int, bytes, float | None]]) -> None:
        """Remember again the ids this state remembered at ``next_offset``: every valid
        event's, from the offsets where the two generations began. ``records``: offset,
        message and its send time (the future-date guard's reference, see
        :meth:`feed_sent`; None: unknown). Nothing is counted."""
        assert self.id_offsets is not None
        old_from, young_from = self.id_offsets
        end, ahead = self.next_offset, self.max_future_s
        young: list[str] = []
        old: list[str] = []
        for offset, raw, sent in records:
            if offset >= end:
                break
            if offset < old_from:
                continue
            event = admitted(raw, None if ahead is None or sent is None else sent + ahead)
            if type(event) is Rejected:
                continue
            assert not isinstance(event, Rejected)
            (young if offset >= young_from else old).append(event.event_id)
        self.ingest.remember(young, old)

    def end_replay(self) -> None:
        self._replay = False
