"""The event-time engine: dedupe, lateness, panes, windows, signals and alerts.

Events are counted into panes (the largest span every configured window and step is a
whole number of). A pane closes when the watermark — the newest event time seen minus
the allowed lateness — passes its end; an event for a closed pane is *late* and is not
added. When a pane boundary is also a window end (a multiple of that window's step), the
window is the sum of its panes: tumbling windows have step = window, hopping windows a
smaller step.

Two halves, so that the streaming path can put a partition boundary between them:

- :class:`Ingest` (one per source: a file, the simulator, one Kafka partition) dedupes,
  judges lateness against its own watermark and hands closed panes on.
- :class:`Evaluator` (one per merged view) sums closed panes from one or many ingests into
  windows, computes the signals and runs the alert state machines.

:class:`Engine` is the two wired together for a single source. Nothing here reads a clock
or does I/O; drivers feed events and drain output.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from signals._clock import micros
from signals.alerting import AlertMachine, Change, State
from signals.config import OTHER, SEVERITIES, Config, Severity, SignalRule
from signals.counts import Counts
from signals.definitions import P95, SIGNALS, percentile_tail, surge
from signals.events import STREAM_OF, Event
from signals.records import Episode, SignalRow

Key = tuple[str, str | None]  # (policy area, market or None for the whole area)
Bucket = dict[Key, Counts]
Outcome = Literal["counted", "duplicate", "late"]
COUNTED: Final = "counted"
DUPLICATE: Final = "duplicate"
LATE: Final = "late"
_NEG_INF: Final = float("-inf")


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _num(value: float) -> float | int:
    """Whole numbers print as integers (``42``, not ``42.0``), as the contract shows them."""
    return int(value) if float(value).is_integer() else value


def key_str(key: Key) -> str:
    return key[0] if key[1] is None else f"{key[0]}|{key[1]}"


def key_of(text: str) -> Key:
    area, _, market = text.partition("|")
    return (area, market or None)


@dataclass(frozen=True)
class Transition:
    """One alert change, for live views and logs (no ids: only area, market, signal)."""

    key: Key
    signal: str
    severity: Severity
    change: Change
    at: dt.datetime
    value: float | None
    threshold: float


@dataclass(frozen=True)
class _Binding:
    key: Key
    signal: str
    rule: SignalRule


def all_keys(config: Config) -> Iterator[Key]:
    for area in config.areas:
        yield (area, None)
        for market in sorted(config.engine.markets):
            yield (area, market)


# --- ingest ---------------------------------------------------------------------------


def _tally(tally: dict[tuple[str, str, str], int], event: Event, area: str,
           outcome: str) -> None:
    key = (STREAM_OF[type(event)], area, outcome)
    tally[key] = tally.get(key, 0) + 1


class Ingest:
    """Dedupe, lateness and pane counting for one source of events (the hot path).

    ``on_close(pane_start, bucket, closed_until)`` receives each pane with data as it
    closes, in order, and then one call with an empty bucket that announces the new
    frontier ``closed_until`` (panes in between had no events).
    """

    def __init__(self, config: Config,
                 on_close: Callable[[int, Bucket, int], None] | None = None) -> None:
        self.pane = config.pane_s
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
        self._seen: set[str] = set()
        self._seen_old: set[str] = set()
        self._generation_s = self.lateness + 2 * self.pane
        self._rotate_at: float = _NEG_INF
        self._closed_until: float = _NEG_INF  # panes starting before this are closed
        self._trigger: float = _NEG_INF  # newest event time that would close the next pane
        self._max_ts: float = _NEG_INF
        self.counted = 0
        self.duplicates = 0
        self.late = 0
        self.dedupe_overflow = 0
        # Each rotation drops the older id generation; a streaming worker notes the source
        # offset of every rotation so that it can rebuild the ids from the log.
        self.rotations = 0

    def area_of(self, policy_area: str) -> str:
        return self._area_keys.get(policy_area, self._other)[0]

    def ingest(self, event: Event,
               tally: dict[tuple[str, str, str], int] | None = None) -> Outcome:
        """Count one event; what became of it (the batch loop keeps no per-event record)."""
        counted, duplicates = self.counted, self.duplicates
        self.ingest_batch((event,), tally)
        if self.counted != counted:
            return COUNTED
        return DUPLICATE if self.duplicates != duplicates else LATE

    def ingest_batch(self, events: Iterable[Event],
                     tally: dict[tuple[str, str, str], int] | None = None) -> None:
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
        closed_until = self._closed_until
        max_ts = self._max_ts
        trigger = self._trigger
        counted = duplicates = late = 0
        cached_pane = -1
        bucket: Bucket = {}
        for event in events:
            ts = micros(event.occurred_at) / 1e6  # == .timestamp(), without its big ints
            pane = int(ts // step) * step
            if pane != cached_pane:
                if pane < closed_until:
                    late += 1
                    if tally is not None:
                        _tally(tally, event, area_keys.get(event.policy_area, other)[0], LATE)
                    continue
                got = panes.get(pane)
                if got is None:
                    got = panes[pane] = {}
                bucket, cached_pane = got, pane
            event_id = event.event_id
            if event_id in seen_old:
                dup = True
            else:
                size = len(seen)
                if size < max_ids:
                    remember(event_id)  # one hash-table probe answers "seen?" and remembers
                    dup = len(seen) == size
                else:
                    dup = event_id in seen
                    if not dup:
                        self.dedupe_overflow += 1
            if dup:
                duplicates += 1
                if tally is not None:
                    _tally(tally, event, area_keys.get(event.policy_area, other)[0], DUPLICATE)
                continue
            key = area_keys.get(event.policy_area, other)
            if tally is not None:
                _tally(tally, event, key[0], COUNTED)
            counts = bucket.get(key)
            if counts is None:
                counts = bucket[key] = Counts()
            counts.add_event(event)
            if markets and event.market in markets:
                self._add_market(bucket, key[0], event)
            counted += 1
            if ts > max_ts:
                max_ts = ts
                if ts >= trigger:
                    self._max_ts = max_ts
                    self.close_through(ts - self.lateness)
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

    def close_through(self, watermark: float) -> None:
        """Close every pane that ends at or before ``watermark``."""
        end = int(watermark // self.pane) * self.pane
        if end <= self._closed_until:
            return
        if self._rotate_at == _NEG_INF:
            self._rotate_at = float(end + self._generation_s)
        elif end >= self._rotate_at:
            # The younger generation holds ids of events just counted (the one that moved
            # the frontier among them), so it is kept one more period even after a jump.
            self._seen_old, self._seen = self._seen, set()
            self._rotate_at = float(end + self._generation_s)
            self.rotations += 1
        for pane in sorted(p for p in self._panes if p + self.pane <= end):
            bucket = self._panes.pop(pane)
            if self.on_close is not None:
                self.on_close(pane, bucket, pane + self.pane)
        self._closed_until = float(end)
        self._trigger = float(end + self.pane + self.lateness)
        if self.on_close is not None:
            self.on_close(end - self.pane, {}, end)

    # Snapshots let a streaming worker keep this state in a changelog-backed table.
    def to_state(self, with_ids: bool = True) -> dict[str, Any]:
        """Without ids the snapshot stays small at any event rate; the owner must then
        :meth:`remember` the ids again (the worker re-reads them from the source log)."""
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
        self._panes = {int(p): {key_of(k): Counts.from_dict(c) for k, c in b.items()}
                       for p, b in state["panes"].items()}
        self._seen = set(state["ids"])
        self._seen_old = set(state["ids_old"])
        rotate = state["rotate_at"]
        self._rotate_at = _NEG_INF if rotate is None else float(rotate)
        cu, mt = state["closed_until"], state["max_ts"]
        self._closed_until = _NEG_INF if cu is None else float(cu)
        self._max_ts = _NEG_INF if mt is None else float(mt)
        self._trigger = (_NEG_INF if cu is None else float(cu) + self.pane + self.lateness)
        self.counted, self.duplicates, self.late, self.dedupe_overflow = state["counters"]

    def remember(self, young: Iterable[str], old: Iterable[str] = ()) -> None:
        """Add ids to the younger and the older generation (after an id-less restore).

        Remembering an id longer than the engine would have is harmless: an event's copies
        share its pane, so once the id would have been forgotten a copy is late anyway.
        """
        self._seen_old.update(old)
        seen = self._seen
        room = self._max_ids - len(seen)
        for event_id in young:
            if room <= 0:
                break
            if event_id not in seen:
                seen.add(event_id)
                room -= 1


# --- evaluator --------------------------------------------------------------------------


class Evaluator:
    """Windows, signals and alerts over closed panes (from one or many :class:`Ingest`)."""

    def __init__(self, config: Config, areas: Iterable[str] | None = None) -> None:
        self.config = config
        self.pane = config.pane_s
        # A merged view may own only some policy areas (the streaming path splits them).
        self.areas: frozenset[str] | None = None if areas is None else frozenset(areas)
        self._closed: dict[int, Bucket] = {}
        self._closed_until: int | None = None
        self._first_pane: int | None = None
        self._last_data_end = 0  # end of the newest closed pane that held data
        self._specs: dict[tuple[int, int], list[_Binding]] = {}
        self._retain = self.pane
        self._bind(config)
        self._history: dict[tuple[Key, str], deque[float]] = {}
        self.machines: dict[tuple[Key, str, Severity], AlertMachine] = {}
        self.latest: dict[tuple[Key, str], SignalRow] = {}
        self.rows: list[SignalRow] = []
        self.transitions: list[Transition] = []
        self.episodes: list[Episode] = []
        self._open: dict[tuple[Key, str, Severity], Episode] = {}

    def _bind(self, config: Config) -> None:
        specs: dict[tuple[int, int], list[_Binding]] = {}
        for key in self.keys():
            for signal in SIGNALS:
                rule = config.rule(key[0], signal)
                if rule is not None:
                    specs.setdefault((rule.window_s, rule.step), []).append(
                        _Binding(key, signal, rule))
        self._specs = specs
        self._quantile_specs = {spec for spec, bs in specs.items()
                                if any(SIGNALS[b.signal].kind == "quantile" for b in bs)}
        self._retain = max([w for w, _ in specs] or [self.pane])
        baselines = [b.rule.baseline_s // b.rule.step for bs in specs.values() for b in bs
                     if b.rule.baseline_s]
        self._steady = self._retain // self.pane + max(baselines or [0]) * max(
            [step // self.pane for _, step in specs] or [1]) + 2

    def reconfigure(self, config: Config) -> None:
        """Take new thresholds from the next window on, keeping alert state and history.

        Only thresholds may change while running: the pane, lateness and markets shape the
        counted state itself (see :func:`reload_blocker`).
        """
        self.config = config
        self._bind(config)
        bound = {(b.key, b.signal) for bs in self._specs.values() for b in bs}
        for mkey in [m for m in self.machines if (m[0], m[1]) not in bound
                     or config.rules[(m[0][0], m[1])].level(m[2]) is None]:
            del self.machines[mkey]
            episode = self._open.pop(mkey, None)
            if episode is not None and self._closed_until is not None:
                episode.ended_at = utc(self._closed_until)  # the rule that fired is gone
        for hkey in [h for h in self._history if h not in bound]:
            del self._history[hkey]
        for lkey in [k for k in self.latest if k not in bound]:
            del self.latest[lkey]

    @property
    def closed_until(self) -> int | None:
        return self._closed_until

    def add_pane(self, pane: int, bucket: Bucket) -> bool:
        """Merge a closed pane's counts; False (and nothing added) if it is already final."""
        if not bucket:
            return True
        if self._closed_until is not None and pane < self._closed_until:
            return False
        target = self._closed.setdefault(pane, {})
        for key, counts in bucket.items():
            have = target.get(key)
            if have is None:
                target[key] = counts
            else:
                have.merge(counts)
        if self._first_pane is None or pane < self._first_pane:
            self._first_pane = pane
            self._last_data_end = pane + self.pane
        return True

    def close_through(self, end: int) -> None:
        """Every pane ending at or before ``end`` is final: emit the windows it completes."""
        if self._first_pane is None:
            return
        start = self._first_pane if self._closed_until is None else self._closed_until
        boundary = start + self.pane
        while boundary <= end:
            self._closed_until = boundary
            if boundary - self.pane in self._closed:
                self._last_data_end = boundary
            if (boundary - self._last_data_end) // self.pane <= self._steady:
                self._emit_windows(boundary)
                boundary += self.pane
            else:
                boundary = self._skip_quiet(boundary, end)
            horizon = self._closed_until - self._retain
            for old in [p for p in self._closed if p < horizon]:
                del self._closed[old]

    def _skip_quiet(self, boundary: int, end: int) -> int:
        """Where to resume after a boundary deep inside a stretch with no data at all.

        Once ``_steady`` boundaries have passed since the last data, every window is empty,
        every count alert has resolved and every baseline holds only zeros, so each further
        window would repeat the same rows: they are not emitted until data comes back.
        A file with a gap of months (real data has them) stays small, and since the rule
        depends only on the data, the output is the same however the panes were delivered.
        """
        upcoming = [p for p in self._closed if p >= boundary]
        resume = min(upcoming) if upcoming else end
        self._closed_until = max(boundary, min(resume, end))
        return max(boundary + self.pane, resume + self.pane if upcoming else end + self.pane)

    def _window_counts(self, key: Key, start: int, end: int, latencies: bool) -> Counts:
        total = Counts()
        closed = self._closed
        parts: list[list[float]] = []
        for pane in range(start, end, self.pane):
            bucket = closed.get(pane)
            part = bucket.get(key) if bucket is not None else None
            if part is not None:
                total.merge(part, latencies=False)
                if latencies and part.latencies:
                    parts.append(part.latencies)
        if parts:
            total.latencies, total.latency_total = percentile_tail(parts, P95)
        return total

    def _emit_windows(self, boundary: int) -> None:
        for (window, step), bindings in self._specs.items():
            if boundary % step:
                continue
            start = boundary - window
            latencies = (window, step) in self._quantile_specs
            merged: dict[Key, Counts] = {}
            for b in bindings:
                counts = merged.get(b.key)
                if counts is None:
                    counts = merged[b.key] = self._window_counts(b.key, start, boundary,
                                                                 latencies)
                self._evaluate(b, counts, start, boundary)

    def _evaluate(self, b: _Binding, counts: Counts, start: int, end: int) -> None:
        definition = SIGNALS[b.signal]
        value, n = definition.compute(counts)
        if definition.kind == "baseline":
            value = self._baseline_value(b, value or 0.0)
        if value is not None:
            row = SignalRow(b.key[0], b.key[1], b.signal, utc(start), utc(end), _num(value), n)
            self.rows.append(row)
            self.latest[(b.key, b.signal)] = row
        else:
            self.latest.pop((b.key, b.signal), None)
        rule = b.rule
        for severity in SEVERITIES:
            level = rule.level(severity)
            if level is None:
                continue
            mkey = (b.key, b.signal, severity)
            machine = self.machines.get(mkey)
            if machine is None:
                machine = self.machines[mkey] = AlertMachine()
            clear = rule.clear_level(severity)
            assert clear is not None
            change = machine.step(end, value, n, level=level, clear=clear,
                                  above=rule.direction == "above",
                                  min_samples=rule.min_samples, for_s=rule.for_s)
            if change is not None:
                self._record(mkey, machine, change, end, value, level)
            elif machine.state == "firing":
                self._open[mkey].peak_value = _num(machine.peak)

    def _baseline_value(self, b: _Binding, current: float) -> float | None:
        assert b.rule.baseline_s is not None
        hkey = (b.key, b.signal)
        history = self._history.get(hkey)
        if history is None:
            history = self._history[hkey] = deque(maxlen=b.rule.baseline_s // b.rule.step)
        value = surge(current, history) if len(history) == history.maxlen else None
        history.append(current)
        return value

    def _record(self, mkey: tuple[Key, str, Severity], machine: AlertMachine, change: Change,
                end: int, value: float | None, level: float) -> None:
        key, signal, severity = mkey
        at = utc(end)
        self.transitions.append(Transition(key, signal, severity, change, at, value, level))
        if change == "firing":
            episode = Episode(key[0], key[1], signal, severity, at, None, _num(machine.peak),
                              _num(level))
            self._open[mkey] = episode
            self.episodes.append(episode)
        elif change == "resolved":
            episode = self._open.pop(mkey)
            episode.ended_at = at
            episode.peak_value = _num(machine.peak)

    # Drained in place: drivers hold on to the list and test it cheaply for new output.
    def drain_rows(self) -> list[SignalRow]:
        rows = self.rows[:]
        self.rows.clear()
        return rows

    def drain_transitions(self) -> list[Transition]:
        out = self.transitions[:]
        self.transitions.clear()
        return out

    def state(self, key: Key, signal: str, severity: Severity) -> State:
        machine = self.machines.get((key, signal, severity))
        return machine.state if machine else "inactive"

    def keys(self) -> Iterable[Key]:
        return (k for k in all_keys(self.config) if self.areas is None or k[0] in self.areas)

    def begin_at(self, pane: int) -> None:
        """Start the windows at ``pane`` at the latest, as if a pane with data began there.

        A view that owns only some areas learns from its sources where the first data of
        *any* area is, so that it emits the same windows from the same start as one view
        over everything. No effect once a window has been emitted.
        """
        if self._closed_until is None and (self._first_pane is None or pane < self._first_pane):
            self._first_pane = pane
            self._last_data_end = pane + self.pane

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume: retained panes, baselines, alert machines, episodes."""
        return {
            "closed": {str(p): {key_str(k): c.to_dict() for k, c in b.items()}
                       for p, b in self._closed.items()},
            "closed_until": self._closed_until,
            "first_pane": self._first_pane,
            "last_data_end": self._last_data_end,
            "history": {f"{key_str(k)}#{s}": list(h) for (k, s), h in self._history.items()},
            "machines": {f"{key_str(k)}#{s}#{sev}": [m.state, m.since, m.started_at, m.peak]
                         for (k, s, sev), m in self.machines.items()},
            "latest": {f"{key_str(k)}#{s}": msgspec.to_builtins(r)
                       for (k, s), r in self.latest.items()},
            "episodes": [msgspec.to_builtins(e) for e in self.episodes],
            "open": [i for i, e in enumerate(self.episodes) if e.ended_at is None],
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._closed = {int(p): {key_of(k): Counts.from_dict(c) for k, c in b.items()}
                        for p, b in state["closed"].items()}
        self._closed_until = state["closed_until"]
        self._first_pane = state["first_pane"]
        self._last_data_end = state.get("last_data_end", 0)
        rules = {(b.key, b.signal): b.rule for bs in self._specs.values() for b in bs}
        self._history = {}
        for name, values in state["history"].items():
            ks, signal = name.split("#")
            key = key_of(ks)
            rule = rules.get((key, signal))
            if rule is not None and rule.baseline_s:
                self._history[(key, signal)] = deque(values,
                                                     maxlen=rule.baseline_s // rule.step)
        self.machines = {}
        for name, (st, since, started, peak) in state["machines"].items():
            ks, signal, sev = name.split("#")
            m = AlertMachine()
            m.state, m.since, m.started_at, m.peak = st, since, started, peak
            self.machines[(key_of(ks), signal, sev)] = m
        self.latest = {}
        for name, row in state["latest"].items():
            ks, signal = name.split("#")
            self.latest[(key_of(ks), signal)] = msgspec.convert(row, SignalRow)
        self.episodes = [msgspec.convert(e, Episode) for e in state["episodes"]]
        self._open = {}
        for i in state["open"]:
            e = self.episodes[i]
            self._open[((e.policy_area, e.market), e.signal, e.severity)] = e


def reload_blocker(old: Config, new: Config) -> str | None:
    """Why ``new`` cannot replace ``old`` in a running engine, or None if it can."""
    if new.pane_s != old.pane_s:
        return (f"the pane would change from {old.pane_s}s to {new.pane_s}s (windows and steps "
                "changed their common divisor); restart to apply")
    if new.engine != old.engine:
        return "engine settings (lateness, dedupe, markets) changed; restart to apply"
    if new.areas != old.areas:
        return "the taxonomy's areas changed; restart to apply"
    return None


# --- the two together -------------------------------------------------------------------


class Engine:
    """One :class:`Ingest` feeding one :class:`Evaluator`: a file, the simulator, a test."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.evaluator = Evaluator(config)
        self.ingest_ = Ingest(config, on_close=self._closed)
        self.ingest = self.ingest_.ingest
        self.area_of = self.ingest_.area_of

    def _closed(self, pane: int, bucket: Bucket, closed_until: int) -> None:
        self.evaluator.add_pane(pane, bucket)
        if not bucket:  # the end-of-batch call: the frontier moved
            self.evaluator.close_through(closed_until)

    def flush(self) -> None:
        self.ingest_.flush()

    def reconfigure(self, config: Config) -> str | None:
        """Swap in new thresholds; returns why not (and changes nothing) if it cannot."""
        blocker = reload_blocker(self.config, config)
        if blocker is None:
            self.config = config
            self.evaluator.reconfigure(config)
        return blocker

    def advance(self, watermark: float) -> None:
        """Close panes up to ``watermark`` without an event (an idle source)."""
        self.ingest_.close_through(watermark)

    # Read-only views the drivers use.
    @property
    def pane(self) -> int:
        return self.ingest_.pane

    @property
    def lateness(self) -> int:
        return self.ingest_.lateness

    @property
    def counted(self) -> int:
        return self.ingest_.counted

    @property
    def duplicates(self) -> int:
        return self.ingest_.duplicates

    @property
    def late(self) -> int:
        return self.ingest_.late

    @property
    def newest(self) -> float:
        return self.ingest_.newest

    @property
    def watermark(self) -> float:
        return self.ingest_.watermark

    @property
    def remembered_ids(self) -> int:
        return self.ingest_.remembered_ids

    @property
    def rows(self) -> list[SignalRow]:
        return self.evaluator.rows

    @property
    def transitions(self) -> list[Transition]:
        return self.evaluator.transitions

    @property
    def episodes(self) -> list[Episode]:
        return self.evaluator.episodes

    @property
    def latest(self) -> dict[tuple[Key, str], SignalRow]:
        return self.evaluator.latest

    @property
    def machines(self) -> dict[tuple[Key, str, Severity], AlertMachine]:
        return self.evaluator.machines

    def drain_rows(self) -> list[SignalRow]:
        return self.evaluator.drain_rows()

    def drain_transitions(self) -> list[Transition]:
        return self.evaluator.drain_transitions()

    def state(self, key: Key, signal: str, severity: Severity) -> State:
        return self.evaluator.state(key, signal, severity)

    def keys(self) -> Iterable[Key]:
        return self.evaluator.keys()
