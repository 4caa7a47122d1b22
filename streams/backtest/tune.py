"""``harmwatch tune``: sweep one rule's level and ``for``, see pages against incidents caught.

A signal's raw value over a window does not depend on the rule's levels, so the history is
replayed once, keeping only that rule's windows (:func:`collect_series`), and each candidate
replays only what does depend on them (:func:`replay_alerts`): for an absolute rule the
alert machine; for a baseline-relative rule also its baseline and judge, since what the
baseline admits depends on the levels and the alert state (windows past the lowest level or
in alert stay out), and so every later score does. A sweep of 20 candidates therefore costs
about one backtest (``benchmarks/tune_sweep.py``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from signals.alerting import AlertMachine, Change
from signals.baselines import Baseline
from signals.config import SEVERITIES, Config, Severity, SignalRule
from signals.definitions import SIGNALS
from signals.judges import MEASURES, anomalous, effective, extension, judge, shape
from signals.keys import as_number, utc
from signals.records import Episode, SignalRow
from streams.backtest.incidents import KnownIncident
from streams.backtest.replay import Coverage, run_backtest
from streams.backtest.scoring import Score, score


@dataclass(frozen=True)
class Window:
    """One closed window of the tuned rule: end (epoch seconds), its raw value (None: no
    value) and n, as the evaluator computed them before judging."""

    end: int
    value: float | None
    n: int
    # False for a window put back where the evaluator emitted nothing (see series_from_rows):
    # its machine steps on no value, but nothing is judged or offered to a baseline.
    emitted: bool = True


@dataclass(frozen=True)
class Series:
    policy_area: str
    signal: str
    windows: list[Window]
    span: tuple[dt.datetime, dt.datetime]


def series_from_rows(area: str, signal: str, rows: Sequence[SignalRow], step: int,
                     span: tuple[dt.datetime, dt.datetime]) -> Series:
    """The windows the alert machine saw, from the rows the evaluator wrote.

    The evaluator writes no row for a window without a value (a ratio over nothing), but
    its machine still stepped on it, and that cancels a pending alert. One such window is
    put back wherever rows skip a step; more would change nothing, since a window without a
    value leaves an inactive or firing alert as it is.
    """
    windows: list[Window] = []
    last: int | None = None
    for r in sorted(rows, key=lambda r: r.window_end):
        end = int(r.window_end.timestamp())
        if last is not None and end - last > step:
            windows.append(Window(last + step, None, 0, emitted=False))
        value = None if r.value is None else float(r.value)
        windows.append(Window(end, value, r.n))
        last = end
    return Series(area, signal, windows, span)


def collect_series(config: Config, events: Path, area: str, signal: str,
                   progress: bool | None = None) -> Series:
    """Replay ``events`` once and keep the area-level windows of one rule. Raises OSError.

    A relative rule's rows carry the raw value (what its judge reads), except report_surge's,
    whose row holds the ratio and is not written while the baseline warms up; its raw count
    is the report count over the same window, so the replay also windows report_volume like
    report_surge (absolute, no levels: it cannot alert) and keeps those rows instead.
    """
    rule = config.rule(area, signal)
    if rule is None:
        raise ValueError(f"no rule for {signal} in {area}")
    source, replay_config = signal, config
    if rule.relative and SIGNALS[signal].kind == "baseline":
        source = "report_volume"
        replay_config = _with_raw_counts(config, area, rule)
    rows: list[SignalRow] = []
    coverage = Coverage(config.pane_s)
    run_backtest(replay_config, events, progress=progress, keep_rows=rows, coverage=coverage,
                 keep_only=lambda r: r.policy_area == area and r.signal == source)
    return series_from_rows(area, signal, rows, rule.step, coverage.span)


def _with_raw_counts(config: Config, area: str, rule: SignalRule) -> Config:
    counter = rule.model_copy(update={
        "mode": "absolute", "warn": None, "critical": None, "warn_clear": None,
        "critical_clear": None, "baseline_s": None, "min_samples": 0, "for_s": 0,
        "min_ratio": 1.0, "min_lift": 0.0})
    return replace(config, rules={**config.rules, (area, "report_volume"): counter})


def replay_alerts(series: Series, rule: SignalRule, severity: Severity) -> list[Episode]:
    """The episodes of one severity of ``rule`` over ``series``, as the evaluator makes them.

    The one place the sweep depends on how the evaluator feeds its alert machine
    (``Evaluator._evaluate``): if that changes, this function changes with it.
    """
    if rule.relative:
        return replay_relative(series, rule, severity)[0]
    level = rule.level(severity)
    clear = rule.clear_level(severity)
    if level is None or clear is None:
        return []
    machine = AlertMachine()
    above = rule.direction == "above"
    episodes: list[Episode] = []
    current: Episode | None = None
    for w in series.windows:
        change = machine.step(w.end, w.value, w.n, level=level, clear=clear, above=above,
                              min_samples=rule.min_samples, for_s=rule.for_s)
        current = _follow(episodes, current, change, machine, series, severity, level, w.end)
    return episodes


def _follow(episodes: list[Episode], current: Episode | None, change: Change | None,
            machine: AlertMachine, series: Series, severity: Severity, level: float,
            end: int, measure: str = "value") -> Episode | None:
    """One machine step's effect on the episodes, as the evaluator records it: returns the
    episode still open after it."""
    if change == "firing":
        current = Episode(series.policy_area, None, series.signal, severity, utc(end), None,
                          as_number(machine.peak), as_number(level), measure=measure)
        episodes.append(current)
    elif change == "resolved" and current is not None:
        current.ended_at = utc(end)
        current.peak_value = as_number(machine.peak)
        current = None
    elif current is not None and machine.state == "firing":
        current.peak_value = as_number(machine.peak)
    return current


def replay_relative(series: Series, rule: SignalRule,
                    severity: Severity) -> tuple[list[Episode], list[float]]:
    """A relative rule over ``series``: baseline, judge and both severities' machines, as
    the evaluator runs them (the other severity's alert state decides what the baseline
    admits too). Returns the episodes of ``severity`` and every judged window's score."""
    baseline = Baseline(*shape(rule), extend=extension(rule))
    overlap = rule.window_s / rule.step
    above = rule.direction == "above"
    machines = {sev: AlertMachine() for sev in SEVERITIES if rule.level(sev) is not None}
    measure = MEASURES[rule.mode]
    episodes: list[Episode] = []
    scores: list[float] = []
    current: Episode | None = None
    for w in series.windows:
        judged = judge(rule, w.value, w.n, baseline, overlap) if w.emitted else None
        score = effective(judged)
        if score is not None:
            scores.append(score)
        alerting = False
        for sev, machine in machines.items():
            level, clear = rule.level(sev), rule.clear_level(sev)
            assert level is not None and clear is not None
            change = machine.step(w.end, score, w.n, level=level, clear=clear, above=above,
                                  min_samples=rule.min_samples, for_s=rule.for_s)
            alerting = alerting or machine.state != "inactive"
            if sev != severity:
                continue
            current = _follow(episodes, current, change, machine, series, severity, level,
                              w.end, measure)
        if judged is not None:
            baseline.offer(judged.num, judged.den, anomalous=anomalous(rule, score, w.n),
                           alerting=alerting)
    return episodes, scores


def with_setting(rule: SignalRule, severity: Severity, level: float, for_s: int) -> SignalRule:
    """``rule`` with one severity's level (and its explicit clear, kept in proportion) and
    ``for`` replaced."""
    update: dict[str, float | int] = {severity: level, "for_s": for_s}
    old = rule.level(severity)
    explicit: float | None = getattr(rule, f"{severity}_clear")
    if explicit is not None and old:
        update[f"{severity}_clear"] = level * explicit / old
    return rule.model_copy(update=update)


@dataclass(frozen=True)
class Candidate:
    level: float
    for_s: int
    score: Score

    @property
    def per_day(self) -> float:
        return self.score.episodes / self.score.days if self.score.span_s else 0.0

    @property
    def false_per_day(self) -> float:
        return len(self.score.false) / self.score.days if self.score.span_s else 0.0


def auto_levels(series: Series, rule: SignalRule, severity: Severity, count: int) -> list[float]:
    """``count`` levels from the series' median to just past its extreme, and the current
    (for a relative rule: of its material scores at the current setting, which the levels
    apply to; most windows are immaterial and score 0)."""
    if rule.relative:
        values = sorted(v for v in replay_relative(series, rule, severity)[1] if v > 0)
    else:
        values = sorted(w.value for w in series.windows if w.value is not None)
    current = rule.level(severity)
    if not values:
        return [current] if current is not None else []
    median = values[len(values) // 2]
    if rule.direction == "above":
        low, high = median, values[-1] * 1.05 if values[-1] > 0 else 1.0
    else:
        low, high = values[0] * 0.95, median
    levels = {_round(low + (high - low) * i / max(count - 1, 1)) for i in range(count)}
    if current is not None:
        levels.add(current)
    return sorted(levels)


def _round(v: float) -> float:
    if v == 0:
        return 0.0
    digits = 3 - math.floor(math.log10(abs(v)))
    return round(v, max(digits, 0))


def sweep(series: Series, rule: SignalRule, severity: Severity, levels: Sequence[float],
          fors: Sequence[int], incidents: Sequence[KnownIncident]) -> list[Candidate]:
    """Every (level, for) pair scored against the incidents of this area (and signal)."""
    mine = [i for i in incidents if i.policy_area == series.policy_area
            and i.signal in (None, series.signal)]
    out = []
    for for_s in fors:
        for level in levels:
            episodes = replay_alerts(series, with_setting(rule, severity, level, for_s),
                                     severity)
            out.append(Candidate(level, for_s, score(episodes, mine, series.span)))
    return out


def recommend(candidates: Sequence[Candidate], budget_per_day: float,
              direction: str) -> Candidate | None:
    """Within the false-alert budget: the most incidents caught, then the most sensitive
    level (lowest for ``above``), then the shortest ``for``. None when nothing fits."""
    fits = [c for c in candidates if c.false_per_day <= budget_per_day]
    if not fits:
        return None
    sign = 1 if direction == "above" else -1
    return min(fits, key=lambda c: (-c.score.detected, sign * c.level, c.for_s))
