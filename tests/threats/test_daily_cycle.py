"""A day and a half of one area's reports with a pronounced daily cycle (night at 20 % of
the peak) and a surge planted at night, replayed through the backtest path with the shipped
thresholds and threats config.

The surge (a new tag on 16 extra reports a minute for 30 minutes at 05:00, near the
trough) brings the area to 24 reports a minute: fewer than every evening's peak of 40,
so it would be unremarkable at peak. At night it is three times the area's last hour
and a tag never seen: it pages (report_surge and emerging_tag, both to the area's owner).
The normal cycle -- the rise to the peak, the peak, the nightly fall -- raises no threat
episode (no emerging tag, no drop) and no page. The partitioned path (what the worker
runs) pages the same.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

import orjson
import pytest

from signals.records import Episode
from signals.threat_types import POLICY
from signals.threats import ROUTES
from streams.backtest.partitioned import run_partitioned
from streams.backtest.replay import run_backtest
from streams.config_files import load_config, load_threats

AREA = "youth_safety"
OTHER = "scams_fraud"  # a quieter area with the same cycle and no incident
START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
HOURS = 36
MEAN, SWING, PEAK_HOUR = 24.0, 2 / 3, 18.0  # peak 40 a minute at 18:00, trough 8 at 06:00
SURGE_AT = dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)
SURGE_S, SURGE_PER_MINUTE, SURGE_TAG = 1800, 16, "trend:night-challenge"
STEADY = [f"trend:steady-{i}" for i in range(30)]


def _per_minute(t: dt.datetime, scale: float) -> float:
    hours = t.hour + t.minute / 60
    return scale * MEAN * (1 + SWING * math.cos((hours - PEAK_HOUR) / 24 * 2 * math.pi))


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine at these rates (< 50 a minute).
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _stamp(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _events(seed: int = 12, surge_at: dt.datetime = SURGE_AT,
            ) -> list[tuple[dt.datetime, dict[str, object]]]:
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(STEADY))]
    out: list[tuple[dt.datetime, dict[str, object]]] = []
    for minute in range(HOURS * 60):
        t0 = START + dt.timedelta(minutes=minute)
        planted = surge_at <= t0 < surge_at + dt.timedelta(seconds=SURGE_S)
        for area, scale in ((AREA, 1.0), (OTHER, 0.5)):
            n = _poisson(rng, _per_minute(t0, scale))
            extra = SURGE_PER_MINUTE if planted and area == AREA else 0
            for i in range(n + extra):
                t = t0 + dt.timedelta(seconds=rng.random() * 60)
                tags = [SURGE_TAG] if i >= n else [rng.choices(STEADY, weights)[0]]
                if rng.random() < 0.3:  # a long tail of rare tags
                    tags.append(f"tag:{rng.randrange(20000)}")
                out.append((t, {"event_id": f"r{len(out)}", "type": "report",
                                "occurred_at": _stamp(t), "policy_area": area,
                                "reporter": "user", "tags": tags}))
    out.sort(key=lambda x: x[0])
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dt.datetime]]:
    events = _events()
    path = tmp_path_factory.mktemp("daily") / "history.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for _, e in events))
    return path, [t for t, e in events if e["policy_area"] == AREA]


@pytest.fixture(scope="module")
def episodes(history: tuple[Path, list[dt.datetime]]) -> list[Episode]:
    config = load_config()
    return list(run_backtest(config, history[0], threats=load_threats(config=config))
                .engine.evaluator.episodes)


def _in_surge(e: Episode) -> bool:
    # Paged within 15 minutes of the start; an episode may last until the baseline has
    # taken the surge's end into account.
    return SURGE_AT <= e.started_at <= SURGE_AT + dt.timedelta(minutes=15)


def test_the_traffic_has_the_cycle_and_the_surge_is_below_the_peak(
        history: tuple[Path, list[dt.datetime]]) -> None:
    _, times = history

    def count(start: dt.datetime, minutes: int) -> int:
        end = start + dt.timedelta(minutes=minutes)
        return sum(1 for t in times if start <= t < end)

    trough = count(dt.datetime(2026, 11, 24, 5, 30, tzinfo=dt.UTC), 60)
    peak = count(dt.datetime(2026, 11, 23, 17, 30, tzinfo=dt.UTC), 60)
    surge = count(SURGE_AT, 30) * 2  # per hour
    # Night at ~20 % of the peak (8 against 40 a minute, Poisson noise of a few %).
    assert 0.15 < trough / peak < 0.25, (trough, peak)
    # The surge hour holds fewer reports than a normal peak hour: only its time is odd.
    assert surge < 0.75 * peak, (surge, peak)
    assert surge > 2.5 * count(SURGE_AT - dt.timedelta(hours=1), 60)


def test_the_night_surge_pages_in_its_area(episodes: list[Episode]) -> None:
    surge = [e for e in episodes if _in_surge(e)]
    tags = [e for e in surge if e.signal == "emerging_tag"]
    assert [(e.policy_area, SURGE_TAG in (e.detail or "")) for e in tags] == [(AREA, True)]
    assert ROUTES["emerging_tag"] == POLICY
    pages = {(e.policy_area, e.signal) for e in surge if e.severity == "critical"}
    assert (AREA, "report_surge") in pages and (AREA, "emerging_tag") in pages
    assert all(area == AREA for area, _ in pages), pages


def test_the_normal_cycle_raises_no_threat_episode_and_no_page(
        episodes: list[Episode]) -> None:
    threat_kinds = set(ROUTES)
    normal = [e for e in episodes if not _in_surge(e)]
    assert [e for e in normal if e.signal in threat_kinds] == []
    assert [(e.policy_area, e.signal, e.started_at) for e in normal
            if e.severity == "critical"] == []


def test_the_partitioned_path_pages_the_same(
        history: tuple[Path, list[dt.datetime]], episodes: list[Episode]) -> None:
    config = load_config()
    parted = run_partitioned(config, history[0], 3, threats=load_threats(config=config))
    key = [(e.policy_area, e.signal, e.severity, e.started_at, e.ended_at, e.detail)
           for e in episodes]
    assert [(e.policy_area, e.signal, e.severity, e.started_at, e.ended_at, e.detail)
            for e in parted.engine.evaluator.episodes] == key


def test_the_same_extra_reports_at_peak_page_only_for_their_new_tag(tmp_path: Path) -> None:
    # The control: 16 more a minute on top of the peak's 40 is 1.4x the last hour, under
    # report_surge's 2x floor, so only the never-seen tag pages; at night it was 3x.
    at_peak = dt.datetime(2026, 11, 24, 17, 45, tzinfo=dt.UTC)
    path = tmp_path / "peak.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for _, e in _events(surge_at=at_peak)))
    config = load_config()
    pipeline = run_backtest(config, path, threats=load_threats(config=config))
    found = pipeline.engine.evaluator.episodes
    pages = {(e.policy_area, e.signal) for e in found if e.severity == "critical"}
    assert pages == {(AREA, "emerging_tag")}
