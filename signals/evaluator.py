"""Windows, signals and alert state over closed panes (from one or many ingests).

When a pane boundary is also a window end (a multiple of that window's step), the window
is the sum of its panes: tumbling windows have step = window, hopping windows a smaller
step. Nothing here reads a clock or does I/O; drivers add panes and drain output.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from signals.alerting import AlertMachine, Change, State
from signals.baselines import Baseline
from signals.bindings import Binding
from signals.config import Config, Severity
from signals.counts import Counts
from signals.definitions import P95, SIGNALS, SURGE_BASELINE_FLOOR, percentile_tail, surge
from signals.judges import (
    MEASURES,
    Judgement,
    anomalous_from,
    effective,
    fits,
    judge,
    new_baseline,
    restore_baseline,
)
from signals.keys import Bucket, Key, all_keys, as_number, key_of, key_str, utc
from signals.records import Episode, SignalRow


@dataclass(frozen=True)
class Transition:
    """One alert change, for live views and logs (no ids: only area, market, signal)."""

    key: Key
    signal: str
    severity: Severity
    change: Change
    at: dt.datetime
    value: float | None  # what is compared with the threshold: a relative rule's score
    threshold: float
    raw: float | None = None
    expected: float | None = None  # raw and expected: None for an absolute rule


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
        self._specs: dict[tuple[int, int], list[Binding]] = {}
        self._retain = self.pane
        self._bind(config)
        self._history: dict[tuple[Key, str], deque[float]] = {}
        self._baselines: dict[tuple[Key, str], Baseline] = {}
        self.judgements: dict[tuple[Key, str], Judgement] = {}
        self.machines: dict[tuple[Key, str, Severity], AlertMachine] = {}
        self.latest: dict[tuple[Key, str], SignalRow] = {}
        self.rows: list[SignalRow] = []
        self.transitions: list[Transition] = []
        self.episodes: list[Episode] = []
        self._open: dict[tuple[Key, str, Severity], Episode] = {}

    def _bind(self, config: Config) -> None:
        specs: dict[tuple[int, int], list[Binding]] = {}
        for key in self.keys():
            for signal in SIGNALS:
                rule = config.rule(key[0], signal)
                if rule is not None:
                    specs.setdefault((rule.window_s, rule.step), []).append(
                        Binding(key, signal, rule))
        self._specs = specs
        self._quantile_specs = {spec for spec, bs in specs.items()
                                if any(SIGNALS[b.signal].kind == "quantile" for b in bs)}
        self._retain = max([w for w, _ in specs] or [self.pane])
        baselines = [b.rule.baseline_s // b.rule.step for bs in specs.values() for b in bs
                     if b.rule.baseline_s]
        # A relative baseline also holds back the windows that overlap the judged one.
        held = [-(-b.rule.window_s // b.rule.step) * b.rule.step // self.pane
                for bs in specs.values() for b in bs if b.rule.relative]
        self._steady = self._retain // self.pane + max(baselines or [0]) * max(
            [step // self.pane for _, step in specs] or [1]) + 2 + max(held or [0])

    def reconfigure(self, config: Config) -> None:
        """Take new thresholds from the next window on, keeping alert state and history.

        Only thresholds may change while running: the pane, lateness and markets shape the
        counted state itself (see :func:`reload_blocker`).
        """
        old_rules, self.config = self.config.rules, config
        self._bind(config)
        bound = {(b.key, b.signal) for bs in self._specs.values() for b in bs}
        # An alert whose rule changed mode compared values, now scores (or back): it restarts.
        for mkey in [m for m in self.machines if (m[0], m[1]) not in bound
                     or config.rules[(m[0][0], m[1])].level(m[2]) is None
                     or config.rules[(m[0][0], m[1])].mode != old_rules[(m[0][0], m[1])].mode]:
            del self.machines[mkey]
            episode = self._open.pop(mkey, None)
            if episode is not None and self._closed_until is not None:
                episode.ended_at = utc(self._closed_until)  # the rule that fired is gone
        for hkey in [h for h in self._history if h not in bound]:
            del self._history[hkey]
        for b in (b for bs in self._specs.values() for b in bs if b.rule.relative):
            old = self._baselines.get((b.key, b.signal))
            if old is not None and not fits(old, b.rule):
                self._baselines[(b.key, b.signal)] = restore_baseline(old.to_state(), b.rule)
        for bkey in [k for k in self._baselines if k not in bound]:
            del self._baselines[bkey]
            self.judgements.pop(bkey, None)
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
            at_start, at_end = utc(start), utc(boundary)  # once per spec, not per row
            for b in bindings:
                counts = merged.get(b.key)
                if counts is None:
                    counts = merged[b.key] = self._window_counts(b.key, start, boundary,
                                                                 latencies)
                self._evaluate(b, counts, end=boundary, at_start=at_start,
                               at_end=at_end)

    def _evaluate(self, b: Binding, counts: Counts, *, end: int, at_start: dt.datetime,
                  at_end: dt.datetime) -> None:
        value, n = b.definition.compute(counts)
        judged: Judgement | None = None
        if b.relative:
            judged = self._judge(b, value, n, end, b.definition.compute(self._window_counts(
                b.key, end - b.rule.step, end, False)) if b.sequential else None)
            if b.baseline_kind:  # report_surge's value is the ratio
                expected = None if judged is None else judged.expected
                value = None if expected is None else (value or 0.0) / max(
                    expected, SURGE_BASELINE_FLOOR)
        elif b.baseline_kind:
            value = self._baseline_value(b, value or 0.0)
        if value is not None:
            row = SignalRow(b.key[0], b.key[1], b.signal, at_start, at_end, as_number(value), n)
            self.rows.append(row)
            self.latest[(b.key, b.signal)] = row
        else:
            self.latest.pop((b.key, b.signal), None)
        judged_value = effective(judged) if b.relative else value
        alerting = False
        for lv in b.levels:
            mkey = (b.key, b.signal, lv.severity)
            machine = self.machines.get(mkey)
            if machine is None:
                machine = self.machines[mkey] = AlertMachine()
            change = machine.step(end, judged_value, n, level=lv.level, clear=lv.clear,
                                  above=b.above, min_samples=b.min_samples, for_s=b.for_s)
            if change is not None:
                # report_surge's value is a ratio; its expected is reports, as is n.
                raw = float(n) if b.baseline_kind else value
                self._record(mkey, machine, change, end, judged_value, lv.level, (raw, (
                    judged.expected if judged else None)) if b.relative else (None, None))
            elif machine.state == "firing":
                self._open[mkey].peak_value = as_number(machine.peak)
            alerting = alerting or machine.state != "inactive"
        if judged is not None:
            self._baselines[(b.key, b.signal)].offer(
                judged.num, judged.den,
                anomalous=anomalous_from(b.exclude_from, b.min_samples, judged_value, n),
                alerting=alerting, at=end, shaped=judged.shaped)

    def _judge(self, b: Binding, value: float | None, n: int, end: int,
               step: tuple[float | None, int] | None) -> Judgement | None:
        bkey = (b.key, b.signal)
        baseline = self._baselines.get(bkey)
        if baseline is None:
            baseline = self._baselines[bkey] = new_baseline(b.rule)
        judged = judge(b.rule, value, n, baseline, b.overlap, end, step)
        if judged is None:
            self.judgements.pop(bkey, None)
        else:
            self.judgements[bkey] = judged
        return judged

    def warming(self, key: Key, signal: str) -> bool:
        """True while the (area, market) key's rule for ``signal`` has too little history of
        its own to judge (a relative rule's cold start): it cannot page yet."""
        rule = self.config.rule(key[0], signal)
        if rule is None or not rule.relative:
            return False
        baseline = self._baselines.get((key, signal))
        return baseline is None or not baseline.ready

    def _baseline_value(self, b: Binding, current: float) -> float | None:
        assert b.rule.baseline_s is not None
        hkey = (b.key, b.signal)
        history = self._history.get(hkey)
        if history is None:
            history = self._history[hkey] = deque(maxlen=b.rule.baseline_s // b.rule.step)
        value = surge(current, history) if len(history) == history.maxlen else None
        history.append(current)
        return value

    def _record(self, mkey: tuple[Key, str, Severity], machine: AlertMachine, change: Change,
                end: int, value: float | None, level: float,
                judged: tuple[float | None, float | None]) -> None:
        key, signal, severity = mkey
        at = utc(end)
        self.transitions.append(Transition(key, signal, severity, change, at, value, level,
                                           *judged))
        if change == "firing":
            mode = self.config.rules[(key[0], signal)].mode
            episode = Episode(key[0], key[1], signal, severity, at, None, as_number(machine.peak),
                              as_number(level), measure=MEASURES[mode])
            self._open[mkey] = episode
            self.episodes.append(episode)
        elif change == "resolved":
            episode = self._open.pop(mkey)
            episode.ended_at = at
            episode.peak_value = as_number(machine.peak)

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
            "baselines": {f"{key_str(k)}#{s}": b.to_state()
                          for (k, s), b in self._baselines.items()},
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
        self._baselines = {}
        self.judgements = {}
        for name, saved in state.get("baselines", {}).items():
            ks, signal = name.split("#")
            rule = rules.get((key_of(ks), signal))
            if rule is not None and rule.relative:
                self._baselines[(key_of(ks), signal)] = restore_baseline(saved, rule)
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
