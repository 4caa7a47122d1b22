"""Dedupe, lateness and pane counting for one source of events: the per-event hot path.

Events are counted into panes (the largest span every configured window and step is a
whole number of). A pane closes when the watermark — the newest event time seen minus
the allowed lateness — passes its end; an event for a closed pane is *late* and is not
added. One :class:`Ingest` per source (a file, the simulator, one Kafka partition); the
closed panes go to an :class:`signals.evaluator.Evaluator`, directly or through
:mod:`signals.merge`. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

from signals._clock import micros
from signals._tagcount import count_tags
from signals.config import OTHER, Config
from signals.counts import Counts
from signals.events import STREAM_OF, Decision, Event
from signals.keys import Bucket, Key, key_of, key_str
from signals.tags import TagSpec, settle_bucket

Outcome = Literal["counted", "duplicate", "late"]
COUNTED: Final = "counted"
DUPLICATE: Final = "duplicate"
LATE: Final = "late"
_NEG_INF: Final = float("-inf")
Tally = dict[tuple[str, str, str], int]  # (stream, area, outcome) -> events


def _tally(tally: Tally, event: Event, area: str, outcome: str) -> None:
    key = (STREAM_OF[type(event)], area, outcome)
    tally[key] = tally.get(key, 0) + 1


class Ingest:
    """Dedupe, lateness and pane counting for one source of events (the hot path).

    ``on_close(pane_start, bucket, closed_until)`` receives each pane with data as it
    closes, in order, and then one call with an empty bucket that announces the new
    frontier ``closed_until`` (panes in between had no events).
    """

    def __init__(self, config: Config,
                 on_close: Callable[[int, Bucket, int], None] | None = None,
                 threats: TagSpec | None = None) -> None:
        """``threats``: also collect tags and advertisers per area and pane for the
        emergent-threat detectors (see :mod:`signals.tags`)."""
        self.pane = config.pane_s
        self.threats = threats
        self.lateness = config.engine.allowed_lateness_s
        self._max_ids = config.engine.dedupe_max_ids
        self._markets = frozenset(config.engine.markets)
        self._area_keys: dict[str, Key] = {a: (a, None) for a in config.areas}
        self._other: Key = (OTHER, None)
        self._market_keys: dict[tuple[str, str], Key] = {}
        self.on_close = on_close

        self._panes: dict[int, Bucket] = {}
        # Dedupe in two generations of ids: an id must be remembered until its pane closes,
        # which is at most `_generation_s` of frontier advance after it was counted; each
        # time the frontier moves that far the older generation is dropped. Two set lookups
        # per event instead of per-pane bookkeeping, and memory bounded by the open horizon.
        #
        # Every valid event's id is remembered (counted, duplicate or late), and the
        # generations turn on this source's *own* event-time frontier, never on a
        # watermark from outside: so what is remembered depends only on the sequence of
        # events, a replay of the log rebuilds it exactly, and whether a copy is a
        # duplicate does not depend on where a worker's watermark record landed.
        self._seen: set[str] = set()
        self._seen_old: set[str] = set()
        self._generation_s = self.lateness + 2 * self.pane
        self._rotate_at: float = _NEG_INF
        self._closed_until: float = _NEG_INF  # panes starting before this are closed
        self._trigger: float = _NEG_INF  # event time with work: a pane to close, ids to turn
        self._max_ts: float = _NEG_INF
        self.counted = 0
        self.duplicates = 0
        self.late = 0
        self.dedupe_overflow = 0
        # Each rotation drops the older id generation; a streaming worker notes the source
        # offset of every rotation so that it can rebuild the ids from the log.
        self.rotations = 0
        # The events after which the last two rotations happened: the worker turns them
        # into the exact source offsets where each generation began.
        self.rotated_after: tuple[Event | None, Event | None] = (None, None)

    def area_of(self, policy_area: str) -> str:
        return self._area_keys.get(policy_area, self._other)[0]

    def ingest(self, event: Event,
               tally: Tally | None = None) -> Outcome:
        """Count one event; what became of it (the batch loop keeps no per-event record)."""
        counted, duplicates = self.counted, self.duplicates
        self.ingest_batch((event,), tally)
        if self.counted != counted:
            return COUNTED
        return DUPLICATE if self.duplicates != duplicates else LATE

    def ingest_batch(self, events: Iterable[Event],
                     tally: Tally | None = None) -> None:
        """Count valid events (or not: duplicate, late); ``tally`` adds one per event under
        (stream, area, outcome), for the metrics of live modes.

        The per-event hot path, written as one loop over locals: attribute lookups and a
        method call per event cost as much as the counting itself. Consecutive events
        mostly share a pane, so the pane's bucket and id list are looked up only when the
        pane changes.
        """
        step = self.pane
        seen = self._seen
        seen_old = self._seen_old
        remember = seen.add
        panes = self._panes
        area_keys = self._area_keys
        other = self._other
        markets = self._markets
        max_ids = self._max_ids
        spec = self.threats
        hold = spec is not None
        # Event type -> stream name, for the streams whose tags are counted: one probe
        # answers both "counted?" and "which stream?" (a module-global lookup of STREAM_OF
        # per event cost as much as counting the tag).
        tag_stream_of = spec.stream_names if spec is not None else {}
        hold_owners = spec is not None and bool(spec.measures)
        count_automated = spec is not None and spec.automated
        cap = spec.cap if spec is not None else 0
        # A local, not a module-global lookup per event; the cap boxed once, not per call.
        count_into: Any = count_tags
        cap_arg: Any = cap
        closed_until = self._closed_until
        max_ts = self._max_ts
        trigger = self._trigger
        counted = duplicates = late = 0
        cached_pane = -1
        bucket: Bucket = {}
        for event in events:
            ts = micros(event.occurred_at) / 1e6  # == .timestamp(), without its big ints
            pane = int(ts // step) * step
            # Duplicate first, then late: a copy of a remembered id is a duplicate whether
            # or not its pane has closed, so the verdict never depends on when a pane was
            # closed (a worker's watermark record), only on the events before it.
            event_id = event.event_id
            size = len(seen)
            if size < max_ids:
                # One probe answers "seen lately?" and remembers; an id found only in the
                # older generation is remembered again, so the younger one holds every id
                # seen since it began, as a replay of the log would rebuild it.
                remember(event_id)
                dup = len(seen) == size or event_id in seen_old
            else:
                dup = event_id in seen or event_id in seen_old
                if not dup:
                    self.dedupe_overflow += 1
            if dup:
                duplicates += 1
                if tally is not None:
                    _tally(tally, event, area_keys.get(event.policy_area, other)[0], DUPLICATE)
                continue
            if pane != cached_pane:
                if pane < closed_until:
                    late += 1
                    if tally is not None:
                        _tally(tally, event, area_keys.get(event.policy_area, other)[0], LATE)
                    if ts > max_ts:
                        # Only behind a watermark from outside: this source's own event
                        # time still moves (its dedupe generations turn on it).
                        max_ts = ts
                        if ts >= trigger:
                            self._max_ts = max_ts
                            self._advance_own(ts - self.lateness, event)
                            closed_until, trigger = self._closed_until, self._trigger
                            seen, seen_old = self._seen, self._seen_old
                            remember = seen.add
                    continue
                got = panes.get(pane)
                if got is None:
                    got = panes[pane] = {}
                bucket, cached_pane = got, pane
            key = area_keys.get(event.policy_area, other)
            if tally is not None:
                _tally(tally, event, key[0], COUNTED)
            counts = bucket.get(key)
            if counts is None:
                counts = bucket[key] = Counts()
            counts.add_event(event)
            if hold:
                # Tags counted here (a dict probe per tag); the rarer advertiser events are
                # held for the pane's close. Holding every event cost more than counting.
                tags = event.tags
                stream = tag_stream_of.get(type(event)) if tags else None
                if stream is not None:
                    per = counts.tags
                    if per is None:
                        per = counts.tags = {}
                    # Counted in C where built (signals/_tagcount.c): no Python object per
                    # tag is kept for the window.
                    dropped = count_into(per, stream, tags, cap_arg)
                    if dropped:
                        counts.overflow += dropped
                if hold_owners and event.advertiser_id is not None:
                    held = counts.held
                    if held is None:
                        held = counts.held = []
                    held.append(event)
                if count_automated and type(event) is Decision and event.detection == "automated":
                    counts.automated += 1
            if markets and event.market in markets:
                self._add_market(bucket, key[0], event)
            counted += 1
            if ts > max_ts:
                max_ts = ts
                if ts >= trigger:
                    self._max_ts = max_ts
                    self._advance_own(ts - self.lateness, event)
                    closed_until, trigger, cached_pane = self._closed_until, self._trigger, -1
                    seen, seen_old = self._seen, self._seen_old
                    remember = seen.add
        self._max_ts = max_ts
        self.counted += counted
        self.duplicates += duplicates
        self.late += late

    def _add_market(self, bucket: Bucket, area: str, event: Event) -> None:
        assert event.market is not None
        mkey = self._market_keys.get((area, event.market))
        if mkey is None:
            mkey = self._market_keys[(area, event.market)] = (area, event.market)
        counts = bucket.get(mkey)
        if counts is None:
            counts = bucket[mkey] = Counts()
        counts.add_event(event)

    @property
    def newest(self) -> float:
        """Newest event time counted so far (``-inf`` before the first event)."""
        return self._max_ts

    @property
    def watermark(self) -> float:
        return self._max_ts - self.lateness

    @property
    def closed_until(self) -> float:
        return self._closed_until

    @property
    def remembered_ids(self) -> int:
        return len(self._seen) + len(self._seen_old)

    def flush(self) -> None:
        """End of input: close every pane up to and including the one with the newest event."""
        if self._max_ts != _NEG_INF:
            self.close_through((int(self._max_ts // self.pane) + 1) * self.pane)

    def _advance_own(self, watermark: float, event: Event) -> None:
        """This source's own events moved its watermark (``event`` moved it): turn the
        dedupe generations when due, then close panes."""
        end = int(watermark // self.pane) * self.pane
        if self._rotate_at == _NEG_INF:
            self._rotate_at = float(end + self._generation_s)
        elif end >= self._rotate_at:
            # The younger generation holds ids of events just counted (the one that moved
            # the frontier among them), so it is kept one more period even after a jump.
            self._seen_old, self._seen = self._seen, set()
            self._rotate_at = float(end + self._generation_s)
            self.rotations += 1
            self.rotated_after = (self.rotated_after[1], event)
        self.close_through(watermark)
        self._set_trigger()

    def _set_trigger(self) -> None:
        """The newest event time at which :meth:`_advance_own` has work: the next pane
        to close or the next generation to turn, whichever comes first."""
        cu, rot = self._closed_until, self._rotate_at
        close = _NEG_INF if cu == _NEG_INF else cu + self.pane + self.lateness
        # own end >= rot  <=>  watermark >= rot rounded up to a whole pane
        turn = _NEG_INF if rot == _NEG_INF else -(-rot // self.pane) * self.pane + self.lateness
        self._trigger = min(close, turn)

    def close_through(self, watermark: float) -> None:
        """Close every pane that ends at or before ``watermark`` (from this source's own
        events or from outside: a watermark record, an idle source, the end of input)."""
        end = int(watermark // self.pane) * self.pane
        if end <= self._closed_until:
            return
        for pane in sorted(p for p in self._panes if p + self.pane <= end):
            bucket = self._panes.pop(pane)
            if self.threats is not None:
                settle_bucket(bucket, self.threats)
            if self.on_close is not None:
                self.on_close(pane, bucket, pane + self.pane)
        self._closed_until = float(end)
        self._set_trigger()
        if self.on_close is not None:
            self.on_close(end - self.pane, {}, end)

    # Snapshots let a streaming worker keep this state in a changelog-backed table.
    def to_state(self, with_ids: bool = True) -> dict[str, Any]:
        """Without ids the snapshot stays small at any event rate; the owner must then
        :meth:`remember` the ids again (the worker re-reads them from the source log)."""
        if self.threats is not None:
            for bucket in self._panes.values():
                settle_bucket(bucket, self.threats)
        return {
            "panes": {str(p): {key_str(k): c.to_dict() for k, c in b.items()}
                      for p, b in self._panes.items()},
            "ids": sorted(self._seen) if with_ids else [],
            "ids_old": sorted(self._seen_old) if with_ids else [],
            "rotate_at": None if self._rotate_at == _NEG_INF else self._rotate_at,
            "closed_until": None if self._closed_until == _NEG_INF else self._closed_until,
            "max_ts": None if self._max_ts == _NEG_INF else self._max_ts,
            "counters": [self.counted, self.duplicates, self.late, self.dedupe_overflow],
        }

    def restore(self, state: dict[str, Any]) -> None:
        cap = self.threats.cap if self.threats is not None else 0
        self._panes = {int(p): {key_of(k): Counts.from_dict(c, cap) for k, c in b.items()}
                       for p, b in state["panes"].items()}
        self._seen = set(state["ids"])
        self._seen_old = set(state["ids_old"])
        rotate = state["rotate_at"]
        self._rotate_at = _NEG_INF if rotate is None else float(rotate)
        cu, mt = state["closed_until"], state["max_ts"]
        self._closed_until = _NEG_INF if cu is None else float(cu)
        self._max_ts = _NEG_INF if mt is None else float(mt)
        self._set_trigger()
        self.counted, self.duplicates, self.late, self.dedupe_overflow = state["counters"]

    def remember(self, young: Iterable[str], old: Iterable[str] = ()) -> None:
        """Remember the ids seen since the younger and since the older generation began
        (after an id-less restore), in log order: each generation keeps the first
        ``dedupe_max_ids`` distinct ids, as the batch loop does."""
        for ids, into in ((old, self._seen_old), (young, self._seen)):
            room = self._max_ids - len(into)
            for event_id in ids:
                if room <= 0:
                    break
                if event_id not in into:
                    into.add(event_id)
                    room -= 1
