"""Random platform profiles: reproducible, wide, and the generated traffic follows them."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import yaml

from streams.paths import REPO_ROOT as REPO
from streams.sources.profiles import draw_profiles
from streams.sources.simulator import PROFILES, UNLISTED, Simulator, schedule

AREAS = [*PROFILES, *UNLISTED]
START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def test_the_same_seed_draws_the_same_profile_and_another_seed_another() -> None:
    assert draw_profiles(11, AREAS) == draw_profiles(11, AREAS)
    assert draw_profiles(11, AREAS) != draw_profiles(12, AREAS)


def test_every_seed_spans_over_100x_in_volume_and_minutes_to_hours_in_latency() -> None:
    latencies = []
    for seed in range(60):
        drawn = draw_profiles(seed, AREAS)
        volumes = [p.reports for p in drawn.values()]
        assert max(volumes) / min(volumes) >= 100, seed
        assert all(0.3 <= v <= 300 for v in volumes)
        for p in drawn.values():
            assert 0.10 <= p.violating <= 0.50 and 0.04 <= p.overturn <= 0.35
            assert 0.002 <= p.regulator <= 0.05 and 0 <= (p.swing or 0) <= 0.6
            assert 0 <= p.peak_hour <= 24
        latencies += [p.latency_mean_s for p in drawn.values()]
    assert min(latencies) < 5 * 60 and max(latencies) > 3 * 3600  # minutes to many hours


def test_without_a_drawn_profile_the_output_is_byte_for_byte_the_old_one() -> None:
    # Digest of the simulator's output before drawn profiles existed (commit 8d1d1fc),
    # every incident kind active once in the ten minutes.
    sim = Simulator(start=START, seed=7, incidents=schedule(
        START + dt.timedelta(seconds=60), 8, every_s=30, duration_s=60, first_after_s=0))
    digest = hashlib.sha256()
    count = 0
    for _, raw in sim.lines(600):
        digest.update(raw + b"\n")
        count += 1
    assert (count, digest.hexdigest()) == (
        9682, "ac7afd1fac40516f7c761875d2fa7310e02ed83064a9dd5e1b4716ad875ae95f")


def expected_per_second(rate_per_min: float, swing: float, peak_hour: float,
                        seconds: int) -> float:
    total = 0.0
    for s in range(seconds):
        t = START + dt.timedelta(seconds=s)
        hours = t.hour + t.minute / 60 + t.second / 3600
        total += rate_per_min / 60 * (1 + swing * math.cos((hours - peak_hour) / 24 * 2 * math.pi))
    return total


def test_generated_traffic_matches_the_drawn_rates() -> None:
    seconds = 1200
    drawn = draw_profiles(5, AREAS)
    sim = Simulator(start=START, seed=3, areas=drawn, duplicate_rate=0.0)
    reports: Counter[str] = Counter()
    regulator: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    violating: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    overturned: Counter[str] = Counter()
    waits: dict[str, list[float]] = {a: [] for a in AREAS}
    for _, raw in sim.lines(seconds):
        e = orjson.loads(raw)
        area = e["policy_area"]
        if e["type"] == "report":
            reports[area] += 1
            regulator[area] += e["reporter"] == "regulator"
        elif e["type"] == "decision":
            decisions[area] += 1
            violating[area] += e["verdict"] == "violating"
            if "reported_at" in e:
                waits[area].append(
                    (dt.datetime.fromisoformat(e["occurred_at"])
                     - dt.datetime.fromisoformat(e["reported_at"])).total_seconds())
        elif e.get("stage") == "decided":
            decided[area] += 1
            overturned[area] += e["outcome"] == "overturned"
    checked = 0
    for area, p in drawn.items():
        want = expected_per_second(p.reports, p.swing or 0.0, p.peak_hour, seconds)
        # Poisson counts: within 5 standard deviations (and one event for the quietest).
        assert abs(reports[area] - want) <= 5 * math.sqrt(want) + 1, (area, reports[area], want)

        def close(hits: int, n: int, share: float) -> bool:
            return abs(hits / n - share) <= 5 * math.sqrt(share * (1 - share) / n) + 1e-9

        if decisions[area] >= 400:
            checked += 1
            assert close(violating[area], decisions[area], p.violating), area
            assert close(regulator[area], reports[area], p.regulator), area
            w = waits[area]
            # Exponential waits: the mean's standard error is mean / sqrt(n).
            assert abs(sum(w) / len(w) - p.latency_mean_s) <= 5 * p.latency_mean_s / math.sqrt(
                len(w)), area
        if decided[area] >= 200:
            assert close(overturned[area], decided[area], p.overturn), area
    assert checked >= 3  # the test saw enough busy areas to mean something


def test_incidents_on_a_drawn_platform_move_each_area_relative_to_its_own_rates() -> None:
    drawn = draw_profiles(5, AREAS)
    incidents = schedule(START, 8, every_s=0, duration_s=600, first_after_s=0)
    sim = Simulator(start=START, areas=drawn, incidents=incidents)
    now = START + dt.timedelta(seconds=1)
    harassment = sim.profile("harassment", now)  # review_backlog: six times the wait
    assert harassment.latency_mean_s == drawn["harassment"].latency_mean_s * 6
    assert sim.profile("body_image", now).report_factor == 4.0  # report_surge
    nudity = sim.profile("adult_nudity", now)
    base = drawn["adult_nudity"].overturn
    assert nudity.overturn > max(2 * base, 0.5) and nudity.overturn < 1
    after = sim.profile("adult_nudity", START + dt.timedelta(seconds=600))
    assert after == drawn["adult_nudity"]  # over when the incident ends


def test_simulate_prints_and_writes_the_drawn_profile(tmp_path: Path) -> None:
    out = tmp_path / "profile.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", "--out", str(tmp_path / "e.jsonl"),
         "--duration", "1m", "--incidents", "0", "--profile-seed", "4", "--profile-out",
         str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(out.read_text())
    drawn = draw_profiles(4, AREAS)
    assert doc["profile_seed"] == 4 and list(doc["areas"]) == AREAS
    assert doc["areas"]["youth_safety"]["reports"] == drawn["youth_safety"].reports
    assert doc["areas"]["harassment"]["latency_mean_s"] == drawn["harassment"].latency_mean_s
    assert result.stderr.count("profile ") == len(AREAS)
