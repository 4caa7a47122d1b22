"""The shipped thresholds against the simulator: quiet on normal traffic, and every injected
incident pages (critical) within 10 minutes of event time."""

from __future__ import annotations

import datetime as dt

import pytest

from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.sources.simulator import INCIDENT_KINDS, Simulator, schedule
from tests.support import REPO

START = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
CONFIG = load_config(REPO / "config" / "thresholds.yaml")


def replay(sim: Simulator, duration_s: int) -> Pipeline:
    pipeline = Pipeline(CONFIG)
    for _, raw in sim.lines(duration_s):
        pipeline.feed(raw)
    pipeline.engine.flush()
    return pipeline


@pytest.mark.parametrize("seed", [11, 12])
def test_normal_traffic_pages_nothing_for_hours(seed: int) -> None:
    pipeline = replay(Simulator(start=START, seed=seed), 3 * 3600)
    engine = pipeline.engine
    assert engine.ingest.counted > 150_000  # realistic volume, not an empty run
    assert engine.ingest.duplicates > 0
    assert engine.evaluator.episodes == []


def test_each_incident_pages_within_ten_minutes() -> None:
    incidents = schedule(START + dt.timedelta(hours=1), len(INCIDENT_KINDS))
    sim = Simulator(start=START, seed=5, incidents=incidents, invalid_rate=0.001)
    pipeline = replay(sim, 2 * 3600 + 900)
    episodes = pipeline.engine.evaluator.episodes
    assert pipeline.invalid_total > 0
    for incident in incidents:
        pages = [e for e in episodes if e.severity == "critical"
                 and (e.policy_area, e.signal) == (incident.area, incident.signal)
                 and incident.start <= e.started_at]
        assert pages, f"{incident.kind} never paged"
        delay = pages[0].started_at - incident.start
        assert delay <= dt.timedelta(minutes=10), (incident.kind, delay)
        assert pages[0].ended_at is not None, f"{incident.kind} never resolved"
    # Nothing pages that is not one of the incidents.
    for e in episodes:
        assert any((e.policy_area, e.signal) == (i.area, i.signal)
                   and i.start <= e.started_at <= i.end + dt.timedelta(minutes=10)
                   for i in incidents), e


def test_a_platform_three_times_smaller_pages_each_incident_and_nothing_else() -> None:
    # Relative rules: the same file, no edit, on 0.3x the volume (measured figures for 0.3, 1
    # and 10x are in docs/detection.md).
    incidents = schedule(START + dt.timedelta(hours=1), len(INCIDENT_KINDS))
    sim = Simulator(start=START, seed=6, incidents=incidents, scale=0.3)
    episodes = replay(sim, 2 * 3600 + 900).engine.evaluator.episodes
    delays = []
    for incident in incidents:
        pages = [e for e in episodes if e.severity == "critical"
                 and (e.policy_area, e.signal) == (incident.area, incident.signal)
                 and incident.start - dt.timedelta(minutes=2) <= e.started_at
                 <= incident.end + dt.timedelta(minutes=20)]
        assert pages, f"{incident.kind} never paged at 0.3x"
        delays.append(pages[0].started_at - incident.start)
    assert sorted(delays)[len(delays) // 2] <= dt.timedelta(minutes=10)
    assert all(d <= dt.timedelta(minutes=15) for d in delays), delays
    false_pages = [e for e in episodes if e.severity == "critical" and not any(
        (e.policy_area, e.signal) == (i.area, i.signal) for i in incidents)]
    assert false_pages == []
