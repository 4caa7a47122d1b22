"""simulate --incidents-out, then backtest --incidents: the answer key travels with the data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from streams.backtest.incidents import load_incidents
from streams.paths import REPO_ROOT as REPO

# Levels for the simulator's own scale: youth_safety sees ~1 minor exposure per 5 minutes
# normally and ~40 during the incident; body_image reports quadruple in a surge.
THRESHOLDS = {
    "version": 1,
    "defaults": {
        "minor_exposure": {"window": "5m", "step": "1m", "warn": 8, "critical": 15,
                           "for": "1m"},
        "report_surge": {"window": "5m", "step": "1m", "baseline": "1h", "warn": 2.0,
                         "critical": 3.0, "min_samples": 30, "for": "1m"},
    },
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True,
                            text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_simulate_then_score_catches_both_injected_incidents(tmp_path: Path) -> None:
    (tmp_path / "thresholds.yaml").write_text(yaml.safe_dump(THRESHOLDS))
    (tmp_path / "policy_areas.yaml").write_text(
        (REPO / "config" / "policy_areas.yaml").read_text())
    events, incidents, score = (tmp_path / n for n in ("h.jsonl", "inc.csv", "score.json"))
    run("simulate", "--out", str(events), "--duration", "80m", "--incidents", "2",
        "--start", "2026-11-24T08:00:00Z", "--incidents-out", str(incidents))
    # schedule(): first after 1h + 2 min, one every 6 minutes, 10 minutes each.
    assert [(i.label, i.policy_area, i.signal, i.start.isoformat(), i.end.isoformat())
            for i in load_incidents(incidents)] == [
        ("minor_exposure", "youth_safety", "minor_exposure", "2026-11-24T09:02:00+00:00",
         "2026-11-24T09:12:00+00:00"),
        ("report_surge", "body_image", "report_surge", "2026-11-24T09:08:00+00:00",
         "2026-11-24T09:18:00+00:00")]
    run("backtest", "--events", str(events), "--config", str(tmp_path / "thresholds.yaml"),
        "--incidents", str(incidents), "--score-out", str(score))
    doc = json.loads(score.read_text())
    assert doc["incidents"] == 2 and doc["detected"] == 2 and doc["missed"] == []
    assert doc["false_episodes"] == 0
    for r in doc["per_incident"]:
        # for 1m: firing a minute after the first breaching window at the earliest.
        assert 60 <= r["delay_s"] <= 600, r
        assert r["episode"]["signal"] == r["signal"]
