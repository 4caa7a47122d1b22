"""``harmwatch calibrate``: fit every area's and signal's levels to a platform's own history.

The history is replayed once with the base config (modes, windows, ``for``, baselines and
floors stay as they are). Every judged window of every area-level rule is kept: the score
for a relative rule (what its alert machine compares with the levels), the value for an
absolute one. Each rule's critical level is then fitted so that its history holds at most
its share of the page budget of excursions (``calibrate_fit``), and its warn level to four
times that share (tickets). The file is then replayed with the fitted levels, because a
level changes what the baseline admits; any rule that still raised more than its share is
raised one step and the file replayed again, a few rounds at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from signals.config import Config, Severity, SignalRule
from signals.events import Rejected
from signals.judges import Judgement
from signals.lines import decode_chunks
from signals.pipeline import Pipeline
from streams.backtest.calibrate_fit import Fit, fit_level
from streams.backtest.replay import Coverage

WARN_FACTOR: Final = 4.0  # tickets allowed per page: a warning costs a look, not a wake-up
# The least level written: a surprise under 2 is the baseline's own exclusion cut (1 in
# 100), a ratio under 1.2 is within a normal hour's swing of a p95.
FLOORS: Final[dict[str, float]] = {"count_surprise": 2.0, "rate_surprise": 2.0,
                                    "baseline_ratio": 1.2, "absolute": 0.0}
SCORE_STEP: Final = 0.5  # a surprise level is raised by this much per verification round
VALUE_STEP: Final = 1.1  # a ratio or value level is multiplied by this

RuleKey = tuple[str, str]


class _Recorder(dict[Any, Judgement]):
    """The evaluator's ``judgements`` map, also logging every area-level judgement in order
    (the map itself keeps only the last one)."""

    def __init__(self, log: dict[RuleKey, list[float | None]],
                 rules: dict[RuleKey, SignalRule]) -> None:
        super().__init__()
        self.log = log
        self.rules = rules
        # baseline_ratio: the judgement does not carry the window's sample count, its row
        # does (one row per judged window, in order); the indices wait for the rows.
        self.unsized: dict[RuleKey, deque[int]] = defaultdict(deque)

    def sized(self, key: RuleKey, n: int) -> None:
        """The row of the oldest baseline_ratio judgement of ``key`` held ``n`` samples."""
        waiting = self.unsized[key]
        if n <= 0 or not waiting:  # a row with no samples was not judged (judges.judge)
            return
        index = waiting.popleft()
        if n < self.rules[key].min_samples:
            self.log[key][index] = None

    def __setitem__(self, key: Any, value: Judgement) -> None:
        super().__setitem__(key, value)
        (area, market), signal = key
        rule = self.rules.get((area, signal))
        if market is not None or rule is None:
            return
        n = value.den if rule.mode == "rate_surprise" else value.num
        # A window under min_samples cannot start or advance an alert: it breaks a run.
        usable = value.score is not None and (rule.mode == "baseline_ratio"
                                              or n >= rule.min_samples)
        self.log[(area, signal)].append(value.score if usable else None)
        if rule.mode == "baseline_ratio":
            self.unsized[(area, signal)].append(len(self.log[(area, signal)]) - 1)

    def pop(self, key: Any, default: Any = None) -> Any:
        # The evaluator drops the judgement of a window with nothing to judge (a rate with
        # no samples): the alert machine sees no value there, which cancels a pending
        # alert, so the window is a gap that splits a run, not nothing.
        (area, market), signal = key
        if market is None and (area, signal) in self.rules:
            self.log[(area, signal)].append(None)
        return super().pop(key, default)


@dataclass
class History:
    """What a replay saw: per area-level rule, its windows' scores or values, in order."""

    series: dict[RuleKey, list[float | None]] = field(default_factory=lambda: defaultdict(list))
    episodes: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    span: tuple[dt.datetime, dt.datetime] | None = None
    events: int = 0
    rejected: int = 0

    @property
    def days(self) -> float:
        if self.span is None:
            return 0.0
        return (self.span[1] - self.span[0]).total_seconds() / 86400


def replay(config: Config, events: Path, lines: Callable[[Any], Iterator[bytes]] = iter,
           ) -> History:
    """Replay ``events`` with ``config``; keep every judged window and count the episodes
    per (area, signal, severity). Raises OSError."""
    history = History()
    rules = {k: r for k, r in config.rules.items()}
    pipeline = Pipeline(config)
    evaluator = pipeline.engine.evaluator
    recorder = evaluator.judgements = _Recorder(history.series, rules)
    coverage = Coverage(config.pane_s)

    def reject(line: int, rejected: Rejected, raw: bytes) -> None:
        history.rejected += 1

    def drain() -> None:
        rows = evaluator.drain_rows()
        coverage.add(rows)
        for r in rows:
            rule = rules.get((r.policy_area, r.signal))
            if r.market is None and rule is not None and rule.mode == "baseline_ratio":
                recorder.sized((r.policy_area, r.signal), r.n)
            if r.market is None and rule is not None and not rule.relative:
                usable = r.value is not None and r.n >= rule.min_samples
                history.series[(r.policy_area, r.signal)].append(
                    float(r.value) if usable and r.value is not None else None)

    with events.open("rb", buffering=1 << 20) as handle:
        for batch in decode_chunks(lines(handle), reject, 256):
            history.events += len(batch)
            pipeline.engine.ingest.ingest_batch(batch)
            if evaluator.rows:
                drain()
        pipeline.engine.flush()
        drain()
    for e in evaluator.episodes:
        if e.market is None:
            history.episodes[(e.policy_area, e.signal, e.severity)] += 1
    history.span = coverage.span
    return history


@dataclass(frozen=True)
class RuleFit:
    area: str
    signal: str
    rule: SignalRule
    critical: Fit | None
    warn: Fit | None
    note: str = ""


UNLEVELLED: Final = "unlevelled"  # RuleFit.note of a rule the base leaves without levels


def unlevelled(rule: SignalRule) -> bool:
    """The base gives the rule no level: it never alerts (report_volume, a capacity signal
    whose levels are each platform's own number)."""
    return rule.warn is None and rule.critical is None


def fitted_count(fits: dict[RuleKey, RuleFit]) -> int:
    """The rules that got levels: the budget is shared among them alone."""
    return sum(1 for f in fits.values() if f.critical is not None and f.warn is not None)


def fit_rules(config: Config, history: History, pages_per_day: float, trim: int,
              fit_unlevelled: frozenset[str] = frozenset()) -> dict[RuleKey, RuleFit]:
    """Per area-level rule, warn and critical fitted to its share of the budget.

    A rule the base leaves without levels stays so (it does not page there, and a fit from
    observed volume would make it page with every surge) unless its signal is in
    ``fit_unlevelled``."""
    def kept(key: RuleKey, rule: SignalRule) -> str:
        if rule.direction != "above":
            return "direction below: levels kept as given"
        if unlevelled(rule) and key[1] not in fit_unlevelled:
            return UNLEVELLED
        return ""

    fitted = [k for k, r in config.rules.items() if not kept(k, r)]
    share = pages_per_day / max(len(fitted), 1)
    days = history.days
    out: dict[RuleKey, RuleFit] = {}
    for key, rule in config.rules.items():
        if note := kept(key, rule):
            out[key] = RuleFit(*key, rule, None, None, note)
            continue
        values = history.series.get(key, [])
        floor = FLOORS[rule.mode]
        if not rule.relative:
            # A value is always above 0: its excursions are the runs above its median.
            known = sorted(v for v in values if v is not None)
            floor = known[len(known) // 2] if known else floor
        score = rule.mode in ("count_surprise", "rate_surprise")
        critical = fit_level(values, share * days, trim, score, floor)
        warn = fit_level(values, WARN_FACTOR * share * days, trim, score, floor)
        if warn.level > critical.level:
            warn = Fit(critical.level, "capped at the critical level", critical.excursions,
                       critical.trimmed)
        out[key] = RuleFit(*key, rule, critical, warn)
    return out


def raise_step(fit: Fit, mode: str, why: str) -> Fit:
    score = mode in ("count_surprise", "rate_surprise")
    level = fit.level + SCORE_STEP if score else round(fit.level * VALUE_STEP, 6)
    how = f"+{SCORE_STEP:g}" if score else f"x{VALUE_STEP:g}"
    return Fit(level, f"{fit.statistic}; then {how} ({why})", fit.excursions, fit.trimmed)


def tighten(fits: dict[RuleKey, RuleFit], history: History, pages_per_day: float,
            ) -> list[RuleKey]:
    """Raise the levels of every rule whose verification replay raised more than its share;
    the keys raised."""
    days = max(history.days, 1e-9)
    share = pages_per_day / max(fitted_count(fits), 1)
    raised = []
    for key, f in fits.items():
        if f.critical is None or f.warn is None:
            continue
        # The excursions set aside as incidents may alert: that is what they are.
        allowed: dict[Severity, float] = {
            "critical": share * days + f.critical.trimmed,
            "warn": WARN_FACTOR * share * days + f.warn.trimmed}
        levels = {"critical": f.critical, "warn": f.warn}
        changed = False
        for sev in ("critical", "warn"):
            got = history.episodes.get((*key, sev), 0)
            if got > allowed[sev]:
                levels[sev] = raise_step(levels[sev], f.rule.mode,
                                         f"{got} {sev} episode(s) in the verification replay")
                changed = True
        if levels["warn"].level > levels["critical"].level:
            levels["warn"] = Fit(levels["critical"].level, "capped at the critical level",
                                 levels["critical"].excursions, levels["critical"].trimmed)
        if changed:
            fits[key] = RuleFit(f.area, f.signal, f.rule, levels["critical"], levels["warn"])
            raised.append(key)
    return raised


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
