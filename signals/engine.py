"""The event-time engine: dedupe, lateness, panes, windows, signals and alerts.

Events are counted into panes (the largest span every configured window and step is a
whole number of). A pane closes when the watermark — the newest event time seen minus
the allowed lateness — passes its end; an event for a closed pane is *late* and is not
added. When a pane boundary is also a window end (a multiple of that window's step), the
window is the sum of its panes: tumbling windows have step = window, hopping windows a
smaller step. Nothing here reads a clock or does I/O; drivers feed events and drain output.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

from signals.alerting import AlertMachine, Change, State
from signals.config import OTHER, SEVERITIES, Config, Severity, SignalRule
from signals.counts import Counts
from signals.definitions import SIGNALS, surge
from signals.events import Event

Key = tuple[str, str | None]  # (policy area, market or None for the whole area)
Outcome = Literal["counted", "duplicate", "late"]
COUNTED: Final = "counted"
DUPLICATE: Final = "duplicate"
LATE: Final = "late"


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _num(value: float) -> float | int:
    """Whole numbers print as integers (``42``, not ``42.0``), as the contract shows them."""
    return int(value) if float(value).is_integer() else value


class SignalRow(msgspec.Struct, frozen=True):
    policy_area: str
    market: str | None
    signal: str
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | int | None
    n: int


class Episode(msgspec.Struct):
    policy_area: str
    market: str | None
    signal: str
    severity: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    peak_value: float | int
    threshold: float | int


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


class Engine:
    """One engine per independent stream of events (a file, the simulator, a worker)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pane = config.pane_s
        self.lateness = config.engine.allowed_lateness_s
        self._max_ids = config.engine.dedupe_max_ids
        self._markets = frozenset(config.engine.markets)
        self._area_keys: dict[str, Key] = {a: (a, None) for a in config.areas}
        self._other: Key = (OTHER, None)
        self._market_keys: dict[tuple[str, str], Key] = {}

        self._panes: dict[int, dict[Key, Counts]] = {}
        self._closed: dict[int, dict[Key, Counts]] = {}
        self._seen: dict[str, int] = {}
        self._ids_by_pane: dict[int, list[str]] = {}
        self._closed_until: float = float("-inf")  # panes starting before this are closed
        self._trigger: float = float("-inf")  # newest time that would close the next pane
        self._max_ts: float = float("-inf")
        self._first_pane: int | None = None

        self.counted = 0
        self.duplicates = 0
        self.late = 0
        self.dedupe_overflow = 0

        self._specs: dict[tuple[int, int], list[_Binding]] = {}
        for key in self._all_keys():
            for signal in SIGNALS:
                rule = config.rule(key[0], signal)
                if rule is not None:
                    self._specs.setdefault((rule.window_s, rule.step), []).append(
                        _Binding(key, signal, rule))
        self._retain = max([w for w, _ in self._specs] or [self.pane])
        self._history: dict[tuple[Key, str], deque[float]] = {}
        self.machines: dict[tuple[Key, str, Severity], AlertMachine] = {}
        self.latest: dict[tuple[Key, str], SignalRow] = {}
        self.rows: list[SignalRow] = []
        self.transitions: list[Transition] = []
        self.episodes: list[Episode] = []
        self._open: dict[tuple[Key, str, Severity], Episode] = {}

    def _all_keys(self) -> Iterator[Key]:
        for area in self.config.areas:
            yield (area, None)
            for market in sorted(self._markets):
                yield (area, market)

    # --- ingest ---------------------------------------------------------------------

    def area_of(self, policy_area: str) -> str:
        return self._area_keys.get(policy_area, self._other)[0]

    def ingest(self, event: Event) -> Outcome:
        """Count one valid event (or not: duplicate, late). The per-event hot path."""
        ts = event.occurred_at.timestamp()
        pane = int(ts // self.pane) * self.pane
        if pane < self._closed_until:
            self.late += 1
            return LATE
        event_id = event.event_id
        seen = self._seen
        if event_id in seen:
            self.duplicates += 1
            return DUPLICATE
        if len(seen) < self._max_ids:
            seen[event_id] = pane
            ids = self._ids_by_pane.get(pane)
            if ids is None:
                self._ids_by_pane[pane] = [event_id]
            else:
                ids.append(event_id)
        else:
            self.dedupe_overflow += 1
        bucket = self._panes.get(pane)
        if bucket is None:
            bucket = self._panes[pane] = {}
            if self._first_pane is None or pane < self._first_pane:
                self._first_pane = pane
        key = self._area_keys.get(event.policy_area, self._other)
        counts = bucket.get(key)
        if counts is None:
            counts = bucket[key] = Counts()
        counts.add_event(event)
        if self._markets and event.market in self._markets:
            self._add_market(bucket, key[0], event)
        self.counted += 1
        if ts > self._max_ts:
            self._max_ts = ts
            if ts >= self._trigger:
                self._close_through(ts - self.lateness)
        return COUNTED

    def _add_market(self, bucket: dict[Key, Counts], area: str, event: Event) -> None:
        assert event.market is not None
        mkey = self._market_keys.get((area, event.market))
        if mkey is None:
            mkey = self._market_keys[(area, event.market)] = (area, event.market)
        counts = bucket.get(mkey)
        if counts is None:
            counts = bucket[mkey] = Counts()
        counts.add_event(event)

    # --- closing ------------------------------------------------------------------------

    @property
    def newest(self) -> float:
        """Newest event time counted so far (``-inf`` before the first event)."""
        return self._max_ts

    @property
    def watermark(self) -> float:
        return self._max_ts - self.lateness

    def advance(self, watermark: float) -> None:
        """Close panes up to ``watermark`` without an event (idle streams, partition merges)."""
        self._close_through(watermark)

    def flush(self) -> None:
        """End of input: close every pane up to and including the one holding the newest event."""
        if self._max_ts != float("-inf"):
            self._close_through((int(self._max_ts // self.pane) + 1) * self.pane)

    def _close_through(self, watermark: float) -> None:
        end = int(watermark // self.pane) * self.pane  # panes ending at or before are closed
        if self._first_pane is None:
            return
        start = int(max(self._closed_until, self._first_pane))
        for boundary in range(start + self.pane, end + 1, self.pane):
            pane = boundary - self.pane
            self._closed[pane] = self._panes.pop(pane, {})
            for event_id in self._ids_by_pane.pop(pane, ()):
                self._seen.pop(event_id, None)
            self._closed_until = boundary
            self._emit_windows(boundary)
            horizon = boundary - self._retain
            for old in [p for p in self._closed if p < horizon]:
                del self._closed[old]
        self._trigger = self._closed_until + self.pane + self.lateness

    def _window_counts(self, key: Key, start: int, end: int) -> Counts:
        total = Counts()
        for pane in range(start, end, self.pane):
            part = self._closed.get(pane, {}).get(key)
            if part is not None:
                total.merge(part)
        return total

    def _emit_windows(self, boundary: int) -> None:
        assert self._first_pane is not None
        if boundary <= self._first_pane:
            return
        for (window, step), bindings in self._specs.items():
            if boundary % step:
                continue
            start = boundary - window
            merged: dict[Key, Counts] = {}
            for b in bindings:
                counts = merged.get(b.key)
                if counts is None:
                    counts = merged[b.key] = self._window_counts(b.key, start, boundary)
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

    # --- output -----------------------------------------------------------------------

    def drain_rows(self) -> list[SignalRow]:
        rows, self.rows = self.rows, []
        return rows

    def drain_transitions(self) -> list[Transition]:
        out, self.transitions = self.transitions, []
        return out

    def state(self, key: Key, signal: str, severity: Severity) -> State:
        machine = self.machines.get((key, signal, severity))
        return machine.state if machine else "inactive"

    @property
    def remembered_ids(self) -> int:
        return len(self._seen)

    def keys(self) -> Iterable[Key]:
        return self._all_keys()
