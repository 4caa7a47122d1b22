"""The tune sweep replays only the alert machine; its episodes must equal a full backtest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from signals.config import Severity
from streams.backtest.incidents import KnownIncident
from streams.backtest.replay import run_backtest
from streams.backtest.tune import (
    Candidate,
    auto_levels,
    collect_series,
    recommend,
    replay_alerts,
    sweep,
    with_setting,
)
from streams.sources.simulator import Simulator, schedule
from tests.helpers import make_config

START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
DEFAULTS: dict[str, dict[str, Any]] = {
    "minor_exposure": {"window": "5m", "step": "1m", "warn": 3, "critical": 6, "for": "2m"},
    "overturn_rate": {"window": "5m", "step": "1m", "warn": 0.3, "critical": 0.5,
                      "min_samples": 5, "for": "1m"},
    "report_surge": {"window": "5m", "step": "1m", "baseline": "30m", "warn": 1.6,
                     "critical": 2.5, "min_samples": 10, "for": "1m"},
    "violation_rate": {"window": "5m", "step": "1m", "warn": 0.45, "critical": 0.75,
                       "critical_clear": 0.45, "min_samples": 20, "for": "2m"},
    "review_latency_p95": {"window": "10m", "step": "2m", "warn": 3000, "critical": 5000},
}
# A quiet area's overturn rate per minute with no sample guard: it alerts on noise, and its
# minutes without any decided appeal (no value) cancel pending alerts.
AREAS: dict[str, Any] = {"body_image": {"overturn_rate": {"window": "1m", "min_samples": 0}}}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A small platform (scale 0.3): quiet areas have windows with no appeal at all, so the
    # sweep must see the windows without a value the evaluator writes no row for.
    path = tmp_path_factory.mktemp("tune") / "h.jsonl"
    incidents = schedule(START + dt.timedelta(minutes=40), 8, every_s=240, duration_s=480)
    sim = Simulator(start=START, seed=11, incidents=incidents, scale=0.3)
    with path.open("wb") as out:
        for _, raw in sim.lines(90 * 60):
            out.write(raw + b"\n")
    return path


def full_backtest(path: Path, area: str, signal: str, severity: Severity, level: float,
                  for_s: int) -> list[Any]:
    """The same setting the slow way: a config with that level, a whole replay."""
    spec: dict[str, Any] = {severity: level, "for": f"{for_s}s",
                            ("critical" if severity == "warn" else "warn"): None}
    if signal == "violation_rate" and severity == "critical":
        spec["critical_clear"] = level * 0.45 / 0.75  # kept in proportion, by hand
    areas = {a: dict(v) for a, v in AREAS.items()}
    areas.setdefault(area, {})[signal] = AREAS.get(area, {}).get(signal, {}) | spec
    config = make_config(DEFAULTS, areas)
    pipeline = run_backtest(config, path, progress=False)
    return [msgspec.to_builtins(e) for e in pipeline.engine.evaluator.episodes
            if (e.policy_area, e.market, e.signal, e.severity) == (area, None, signal, severity)]


CASES = [
    ("youth_safety", "minor_exposure", "critical"),
    ("adult_nudity", "overturn_rate", "critical"),
    ("body_image", "overturn_rate", "warn"),         # few appeals: windows without a value
    ("body_image", "report_surge", "critical"),
    ("other", "violation_rate", "critical"),          # explicit clear level
    ("youth_safety", "review_latency_p95", "warn"),
]


@pytest.mark.parametrize(("area", "signal", "severity"), CASES)
def test_every_candidate_equals_a_full_backtest_with_that_setting(
        history: Path, area: str, signal: str, severity: Severity) -> None:
    config = make_config(DEFAULTS, AREAS)
    rule = config.rule(area, signal)
    assert rule is not None
    series = collect_series(config, history, area, signal, progress=False)
    levels = auto_levels(series, rule, severity, 4)
    seen = 0
    for for_s in (0, 60, 180):
        for level in levels:
            fast = [msgspec.to_builtins(e) for e in replay_alerts(
                series, with_setting(rule, severity, level, for_s), severity)]
            assert fast == full_backtest(history, area, signal, severity, level, for_s), (
                level, for_s)
            seen += len(fast)
    assert seen > 0  # some candidate alerted, so the comparison was not of empty lists


# Baseline-relative rules: what the baseline admits depends on the levels and the alert state
# (windows past the lowest level, or in alert, stay out), so each candidate's scores differ.
RELATIVE: dict[str, dict[str, Any]] = {
    "minor_exposure": {"mode": "count_surprise", "window": "5m", "step": "1m",
                       "baseline": "30m", "min_ratio": 2.0, "warn": 2.5, "critical": 4,
                       "for": "2m"},
    # a sparse area's baseline pools back (baseline_max) until its rate is known
    "overturn_rate": {"mode": "rate_surprise", "window": "10m", "step": "1m",
                      "baseline": "30m", "baseline_max": "80m", "min_lift": 0.1, "warn": 2,
                      "critical": 3, "for": "1m"},
    "report_surge": {"mode": "count_surprise", "window": "5m", "step": "1m", "baseline": "30m",
                     "min_ratio": 1.5, "warn": 3, "critical": 5, "for": "1m"},
    "violation_rate": {"mode": "rate_surprise", "window": "5m", "step": "1m", "baseline": "30m",
                       "min_lift": 0.1, "warn": 1.5, "critical": 2.5, "critical_clear": 1.8,
                       "for": "2m"},
    # appeals judged as a count (surprise_of), the rate as the floor
    "appeal_rate": {"mode": "rate_surprise", "window": "10m", "step": "1m", "baseline": "30m",
                    "min_lift": 0.05, "surprise_of": "count", "warn": 1.5, "critical": 2.5,
                    "for": "1m"},
    "review_latency_p95": {"mode": "baseline_ratio", "window": "5m", "step": "1m",
                           "baseline": "30m", "warn": 1.5, "critical": 2.5, "min_samples": 5},
}
RELATIVE_AREAS: dict[str, Any] = {}


def full_relative_backtest(path: Path, area: str, signal: str, severity: Severity,
                           level: float, for_s: int) -> list[Any]:
    """A config with that level and ``for`` (the other severity as configured), replayed."""
    areas = {a: dict(v) for a, v in RELATIVE_AREAS.items()}
    spec = dict(areas.get(area, {}).get(signal, {}))
    spec[severity] = level
    spec["for"] = f"{for_s}s"
    if signal == "violation_rate" and severity == "critical":
        spec["critical_clear"] = level * 1.8 / 2.5  # kept in proportion, by hand
    areas.setdefault(area, {})[signal] = spec
    pipeline = run_backtest(make_config(RELATIVE, areas), path, progress=False)
    return [msgspec.to_builtins(e) for e in pipeline.engine.evaluator.episodes
            if (e.policy_area, e.market, e.signal, e.severity) == (area, None, signal, severity)]


RELATIVE_CASES = [
    ("youth_safety", "minor_exposure", "critical"),
    ("adult_nudity", "overturn_rate", "critical"),
    ("body_image", "report_surge", "critical"),       # raw counts through the warm-up
    ("youth_safety", "violation_rate", "critical"),   # explicit clear level
    ("body_image", "review_latency_p95", "warn"),
    ("other", "appeal_rate", "critical"),  # scams_fraud (not in this taxonomy): the wave
    ("adult_nudity", "appeal_rate", "warn"),
    ("youth_safety", "review_latency_p95", "critical"),
]


@pytest.mark.parametrize(("area", "signal", "severity"), RELATIVE_CASES)
def test_relative_rule_candidates_equal_a_full_backtest(
        history: Path, area: str, signal: str, severity: Severity) -> None:
    config = make_config(RELATIVE, RELATIVE_AREAS)
    rule = config.rule(area, signal)
    assert rule is not None and rule.relative
    series = collect_series(config, history, area, signal, progress=False)
    other = rule.warn if severity == "critical" else rule.critical
    assert other is not None
    # Levels of scores, not of raw values; the config must stay valid (warn under critical).
    grid = (1.1, 1.5, 2.0, 3.0) if severity == "critical" else (0.4, 0.6, 0.8, 0.95)
    levels = sorted({round(other * f, 3) for f in grid} | {
        lv for lv in auto_levels(series, rule, severity, 3)
        if (lv > other if severity == "critical" else lv < other)})
    seen = 0
    for for_s in (0, 120):
        for level in levels:
            fast = [msgspec.to_builtins(e) for e in replay_alerts(
                series, with_setting(rule, severity, level, for_s), severity)]
            assert fast == full_relative_backtest(history, area, signal, severity, level,
                                                  for_s), (level, for_s)
            seen += len(fast)
    assert seen > 0


def test_windows_without_a_value_are_in_the_series(history: Path) -> None:
    series = collect_series(make_config(DEFAULTS, AREAS), history, "body_image", "overturn_rate",
                            progress=False)
    assert any(w.value is None for w in series.windows)


def _cand(level: float, for_s: int, false: int, caught: int, total: int) -> Candidate:
    from signals.records import Episode
    from streams.backtest.scoring import score

    t0 = START
    hour = dt.timedelta(hours=1)
    incidents = [KnownIncident("a", t0 + h * hour, t0 + h * hour + dt.timedelta(minutes=10))
                 for h in range(total)]
    episodes = [Episode("a", None, "s", "critical", i.start, None, 1, 1)
                for i in incidents[:caught]]
    episodes += [Episode("a", None, "s", "critical", t0 + 20 * hour + dt.timedelta(minutes=m),
                         None, 1, 1) for m in range(false)]  # one day: false count = per day
    return Candidate(level, for_s, score(episodes, incidents, (t0, t0 + dt.timedelta(days=1))))


def test_recommend_is_the_most_sensitive_within_the_budget() -> None:
    candidates = [
        _cand(5, 0, false=3, caught=3, total=3),   # over a budget of 1/day
        _cand(8, 0, false=1, caught=2, total=3),
        _cand(8, 60, false=0, caught=2, total=3),  # same catch, same level, longer for
        _cand(12, 0, false=0, caught=2, total=3),  # less sensitive level
        _cand(20, 0, false=0, caught=1, total=3),
    ]
    best = recommend(candidates, 1.0, "above")
    assert best is candidates[1]
    assert recommend(candidates, 5.0, "above") is candidates[0]
    assert recommend(candidates[:1], 1.0, "above") is None
    # "below": a higher level is the more sensitive one; catching more still comes first.
    assert recommend(list(reversed(candidates[1:])), 1.0, "below") is candidates[3]


def test_sweep_scores_only_this_areas_incidents(history: Path) -> None:
    config = make_config(DEFAULTS, AREAS)
    rule = config.rule("youth_safety", "minor_exposure")
    assert rule is not None
    series = collect_series(config, history, "youth_safety", "minor_exposure", progress=False)
    mine = KnownIncident("youth_safety", START + dt.timedelta(minutes=42),
                         START + dt.timedelta(minutes=50), "minor_exposure")
    others = [KnownIncident("body_image", mine.start, mine.end),
              KnownIncident("youth_safety", mine.start, mine.end, "violation_rate")]
    [only] = sweep(series, rule, "critical", [6.0], [120], [mine, *others])
    assert len(only.score.per_incident) == 1 and only.score.detected == 1


def test_tune_command_table_recommendation_and_html(tmp_path: Path) -> None:
    import subprocess
    import sys

    from streams.paths import REPO_ROOT as REPO
    from tests.helpers import line
    from tests.unit.test_backtest_cli import backtest, minor
    from tests.unit.test_backtest_score_cli import history

    # minor_exposure per tumbling 5m window: 3 in 10:00-10:05, 1 in 10:30-10:35, else 0.
    base = history()  # 3 minors, then a body_image report each minute (in time order)
    lines = [*base[:3 + 30], line(minor(1800, "lone")), *base[3 + 30:]]
    backtest(tmp_path, lines)  # writes the config and events files the command reads
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("policy_area,start,end,signal\nyouth_safety,2026-11-24T10:00:00Z,"
                         "2026-11-24T10:04:00Z,minor_exposure\n")
    page = tmp_path / "tune.html"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "tune", "youth_safety", "minor_exposure",
         "--events", str(tmp_path / "events.jsonl"), "--config", str(tmp_path / "thresholds.yaml"),
         "--incidents", str(incidents), "--levels", "1,2,3,4", "--for", "0s",
         "--html", str(page)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = {ln.split("│")[1].strip(): [c.strip() for c in ln.split("│")[2:-1]]
            for ln in result.stdout.splitlines() if ln.startswith("│")}
    # level 1 also pages on the lone 10:30 minor: 1 false page in 65 min = 22.15 a day.
    assert rows["1"][2:4] == ["22.15", "1/1"]
    assert rows["2"][2:4] == ["0.00", "1/1"] and "recommended" in rows["2"][-1]
    assert rows["3"][2:5] == ["0.00", "1/1", "5m00s"] and "(current)" in rows["3"][-1]
    assert rows["4"][2:4] == ["0.00", "0/1"]
    assert "recommended: critical: 2, for: 0s" in result.stdout
    text = page.read_text()
    # Two charts (false pages, incidents caught): 4 candidates and the ring on each.
    assert "recommended: level 2, for 0s" in text and text.count("<circle") == 10
