"""Prometheus exposition of signals, thresholds, alert states and raw counters.

A custom collector reads a snapshot at scrape time instead of updating labelled metrics
per event: the hot path only bumps plain dict counters. Label values are policy areas,
markets from config, signal and severity names, stream names and rejection reasons — all
bounded by config or the contract; no user, content or advertiser id ever becomes a label.

Metric names (the contract with the generated rules and dashboards; each defined once in
:mod:`alerts.conventions`):

- ``harmwatch_signal_value{policy_area,market,signal}``: value of the last closed window
  (absent while a ratio has no denominator); ``market=""`` is the whole area.
- ``harmwatch_signal_samples{policy_area,market,signal}``: its sample size ``n``.
- ``harmwatch_signal_window_end_timestamp_seconds{policy_area,market,signal}``.
- ``harmwatch_signal_threshold{policy_area,signal,severity}`` and
  ``harmwatch_signal_clear_threshold{...}``: levels from config.
- ``harmwatch_signal_score{policy_area,market,signal}`` and ``harmwatch_signal_expected{...}``:
  a relative rule's last judgement — the score its levels apply to (surprise or ratio) and
  the baseline's expected value in the signal's own unit (absent while warming up).
- ``harmwatch_signal_warming{policy_area,market,signal}``: 1 while a relative rule's baseline
  has too little history of its own to judge (it cannot page yet), else 0.
- ``harmwatch_signal_effective_threshold{policy_area,market,signal,severity}``: a relative
  rule's level in the signal's own unit for the last window (signals/effective.py: the value
  at which that window would score at the level and pass every floor); area level only,
  absent while warming up or when no value can reach it (a rate over too few samples).
- ``harmwatch_alert_state{policy_area,market,signal,severity}``: 0 inactive, 1 pending,
  2 firing (decided by the engine in event time, so live equals backtest).
- ``harmwatch_events_total{stream,policy_area,outcome}``: counted, duplicate, late.
- ``harmwatch_invalid_events_total{stream,reason}``.
- ``harmwatch_last_event_received_timestamp_seconds{stream}``: wall clock of the last
  valid event per stream (pipeline health: "no events for N minutes").
- ``harmwatch_watermark_timestamp_seconds``, ``harmwatch_dedupe_ids``,
  ``harmwatch_config_info{digest}``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from alerts import conventions as c
from alerts.threat_metrics import ThreatCollector
from signals.alerting import STATE_CODES
from signals.config import SEVERITIES, Config, Severity, SignalRule
from signals.effective import threshold_in_unit
from signals.engine import Engine
from signals.evaluator import Evaluator
from signals.ingest import Tally
from signals.judges import Judgement
from signals.threats import ThreatDetector


class EventCounters(Protocol):
    """The raw counters a driver keeps and the collector reads at scrape time.

    :class:`signals.pipeline.Pipeline` has them, and so does the Kafka worker's plain
    counter record; the collector needs nothing else from either. Read-only members, so any
    object with these two dict attributes fits. They must be plain dicts: the collector
    ``.copy()``s them, which is atomic under the GIL while a driver thread keeps counting.
    """

    @property
    def events(self) -> Tally:
        """(stream, policy area, outcome) -> valid events."""
        ...

    @property
    def invalid(self) -> dict[tuple[str, str], int]:
        """(stream, reason) -> invalid inputs; ``stream="unknown"`` when it cannot be told."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """Immutable view of the engine after a window closed; swapped whole (thread-safe)."""

    values: tuple[tuple[str, str, str, float, int, float], ...] = ()
    states: tuple[tuple[str, str, str, str, int], ...] = ()
    # Relative rules only: (area, market, signal, score, expected, warming).
    judgements: tuple[tuple[str, str, str, float | None, float | None, bool], ...] = ()
    watermark: float | None = None
    dedupe_ids: int = 0
    # Relative rules, area level, warm: (area, signal, rule, last judgement); their levels in
    # the signal's unit are worked out at scrape time (a tail inversion each), not here.
    relative: tuple[tuple[str, str, SignalRule, Judgement], ...] = ()


def snapshot_of(evaluators: Iterable[Evaluator], watermark: float | None,
                remembered_ids: int) -> Snapshot:
    """Values and alert states of one or many evaluators (the worker has one per area)."""
    values: list[tuple[str, str, str, float, int, float]] = []
    states: list[tuple[str, str, str, str, int]] = []
    judged: list[tuple[str, str, str, float | None, float | None, bool]] = []
    relative: list[tuple[str, str, SignalRule, Judgement]] = []
    for ev in evaluators:
        values.extend((key[0], key[1] or "", signal, float(row.value), row.n,
                       row.window_end.timestamp())
                      for (key, signal), row in ev.latest.items() if row.value is not None)
        states.extend((key[0], key[1] or "", signal, severity, STATE_CODES[m.state])
                      for (key, signal, severity), m in ev.machines.items())
        judged.extend(_judgements(ev))
        relative.extend(_warm_judgements(ev))
    return Snapshot(tuple(values), tuple(states), tuple(judged), watermark, remembered_ids,
                    tuple(relative))


def _judgements(ev: Evaluator) -> Iterator[tuple[str, str, str, float | None, float | None,
                                                 bool]]:
    # Every key of a relative rule, judged yet or not: a cold area must say it is warming.
    for key in ev.keys():
        for signal in ev.config.signals:
            rule = ev.config.rule(key[0], signal)
            if rule is None or not rule.relative:
                continue
            j = ev.judgements.get((key, signal))
            warming = ev.warming(key, signal)
            yield (key[0], key[1] or "", signal, None if j is None or warming else j.score,
                   None if j is None else j.expected, warming)


def _warm_judgements(ev: Evaluator) -> Iterator[tuple[str, str, SignalRule, Judgement]]:
    # Area-level keys only: the harm rules and dashboards read market="" (a market's own
    # threshold would cost a tail inversion per market and level).
    for (key, signal), j in ev.judgements.items():
        rule = ev.config.rule(key[0], signal)
        if key[1] is None and rule is not None and rule.relative and not ev.warming(key, signal):
            yield key[0], signal, rule, j


def _in_unit(signal: str, rule: SignalRule, j: Judgement) -> list[tuple[Severity, float]]:
    out = []
    for sev in SEVERITIES:
        level = rule.level(sev)
        at = None if level is None else threshold_in_unit(signal, rule, level, j)
        if at is not None:
            out.append((sev, at))
    return out


def take_snapshot(engine: Engine) -> Snapshot:
    wm = engine.ingest.watermark
    return snapshot_of([engine.evaluator], wm if wm != float("-inf") else None,
                       engine.ingest.remembered_ids)


@dataclass(eq=False)  # registries key collectors by identity
class HarmwatchCollector(Collector):
    config: Config
    # Every source of counters this process exposes (one Pipeline, or the worker's Counters).
    pipelines: Sequence[EventCounters] = field(default_factory=list)
    snapshot: Snapshot = field(default_factory=Snapshot)
    last_event: dict[str, float] = field(default_factory=dict)
    _totals: dict[str, int] = field(default_factory=dict)
    _in_unit: dict[tuple[str, str], tuple[Judgement, list[tuple[Severity, float]]]] = field(
        default_factory=dict)
    # The emergent-threat detectors' series, exposed once a driver runs them.
    threats: ThreatCollector | None = None

    def publish(self, engine: Engine) -> None:
        self.snapshot = take_snapshot(engine)
        if engine.threats is not None:
            self.publish_threats([engine.threats])

    def publish_threats(self, detectors: Iterable[ThreatDetector]) -> None:
        if self.threats is None:
            self.threats = ThreatCollector()
        self.threats.publish(detectors)

    def _note_arrivals(self, merged: dict[tuple[str, ...], int]) -> None:
        # Read off the counters at scrape time instead of stamping every event: the
        # precision is one scrape interval, which is all a "no events for N minutes"
        # alert needs, and the hot path pays nothing.
        totals: dict[str, int] = {}
        for (stream, _, _), n in merged.items():
            totals[stream] = totals.get(stream, 0) + n
        now = time.time()
        for stream, total in totals.items():
            if total != self._totals.get(stream):
                self.last_event[stream] = now
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        if self.threats is not None:
            yield from self.threats.collect()
        snap = self.snapshot
        value = GaugeMetricFamily(c.SIGNAL_VALUE,
                                  "Signal value over the last closed event-time window",
                                  labels=c.SIGNAL_LABELS)
        samples = GaugeMetricFamily(c.SIGNAL_SAMPLES, "Sample size n of the last closed window",
                                    labels=c.SIGNAL_LABELS)
        ends = GaugeMetricFamily(c.SIGNAL_WINDOW_END, "Event-time end of the last closed window",
                                 labels=c.SIGNAL_LABELS)
        for area, market, signal, v, n, end in snap.values:
            value.add_metric([area, market, signal], v)
            samples.add_metric([area, market, signal], n)
            ends.add_metric([area, market, signal], end)
        yield from (value, samples, ends)

        level = GaugeMetricFamily(c.SIGNAL_THRESHOLD, "Alert level from config",
                                  labels=c.THRESHOLD_LABELS)
        clear = GaugeMetricFamily(c.SIGNAL_CLEAR_THRESHOLD,
                                  "Level a firing alert must fall past to resolve",
                                  labels=c.THRESHOLD_LABELS)
        for (area, signal), rule in self.config.rules.items():
            for sev in SEVERITIES:
                lv, cl = rule.level(sev), rule.clear_level(sev)
                if lv is not None and cl is not None:
                    level.add_metric([area, signal, sev], lv)
                    clear.add_metric([area, signal, sev], cl)
        yield from (level, clear)

        score = GaugeMetricFamily(c.SIGNAL_SCORE,
                                  "Relative rule's score of the last window (surprise or ratio)",
                                  labels=c.SIGNAL_LABELS)
        expected = GaugeMetricFamily(c.SIGNAL_EXPECTED,
                                     "Relative rule's expected value from the area's baseline",
                                     labels=c.SIGNAL_LABELS)
        warming = GaugeMetricFamily(c.SIGNAL_WARMING,
                                    "1 while a relative rule's baseline is warming up",
                                    labels=c.SIGNAL_LABELS)
        for area, market, signal, sc, ex, warm in snap.judgements:
            if sc is not None:
                score.add_metric([area, market, signal], sc)
            if ex is not None:
                expected.add_metric([area, market, signal], ex)
            warming.add_metric([area, market, signal], 1 if warm else 0)
        yield from (score, expected, warming)

        at = GaugeMetricFamily(c.SIGNAL_EFFECTIVE_THRESHOLD,
                               "Relative rule's level in the signal's own unit for the last "
                               "window: the value at which it scores at the level",
                               labels=c.EFFECTIVE_LABELS)
        # Judgements are immutable and a window closes about once a minute of event time,
        # so most scrapes find the same judgement and reuse its thresholds.
        cache: dict[tuple[str, str], tuple[Judgement, list[tuple[Severity, float]]]] = {}
        for area, signal, rule, j in snap.relative:
            hit = self._in_unit.get((area, signal))
            levels = hit[1] if hit is not None and hit[0] is j else _in_unit(signal, rule, j)
            cache[(area, signal)] = (j, levels)
            for level_of, in_unit in levels:
                at.add_metric([area, c.WHOLE_AREA, signal, level_of], in_unit)
        self._in_unit = cache
        yield at

        state = GaugeMetricFamily(c.ALERT_STATE,
                                  "Alert state in event time: 0 inactive, 1 pending, 2 firing",
                                  labels=c.ALERT_STATE_LABELS)
        for area, market, signal, severity, code in snap.states:
            state.add_metric([area, market, signal, severity], code)
        yield state

        events = CounterMetricFamily(c.EVENTS, "Valid events by stream, policy area and outcome",
                                     labels=c.EVENTS_LABELS)
        invalid = CounterMetricFamily(c.INVALID_EVENTS, "Invalid events by stream and reason",
                                      labels=c.INVALID_LABELS)
        merged: dict[tuple[str, ...], int] = {}
        merged_invalid: dict[tuple[str, ...], int] = {}
        for counters in self.pipelines:
            for ek, n in counters.events.copy().items():
                merged[ek] = merged.get(ek, 0) + n
            for ik, n in counters.invalid.copy().items():
                merged_invalid[ik] = merged_invalid.get(ik, 0) + n
        for mk, n in sorted(merged.items()):
            events.add_metric(list(mk), n)
        for mi, n in sorted(merged_invalid.items()):
            invalid.add_metric(list(mi), n)
        yield from (events, invalid)
        self._note_arrivals(merged)

        last = GaugeMetricFamily(c.LAST_EVENT_RECEIVED,
                                 "Wall-clock time the last valid event of a stream arrived",
                                 labels=[c.STREAM])
        for stream, when in sorted(self.last_event.copy().items()):
            last.add_metric([stream], when)
        yield last
        if snap.watermark is not None:
            yield GaugeMetricFamily(c.WATERMARK,
                                    "Event-time watermark (newest event time minus lateness)",
                                    value=snap.watermark)
        yield GaugeMetricFamily(c.DEDUPE_IDS, "Event ids remembered for dedupe",
                                value=snap.dedupe_ids)
        info = GaugeMetricFamily(c.CONFIG_INFO, "Config in force", labels=[c.DIGEST])
        info.add_metric([self.config.digest], 1)
        yield info


def new_registry(collector: HarmwatchCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
