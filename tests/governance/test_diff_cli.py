"""`harmwatch diff` as a subprocess on hand-built history whose counts are known."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from tests.helpers import T0, TAXONOMY, ev, line
from tests.support import REPO

OLD = """\
version: 1
engine:
  allowed_lateness: 60s
defaults:
  minor_exposure:
    window: 5m
    critical: 10
    for: 0s
areas:
  youth_safety:
    minor_exposure:
      critical: 10
"""
# The same settings: keys reordered, comments changed.
OLD_REORDERED = """\
# reviewed by youth-safety-policy
areas:
  youth_safety:
    minor_exposure:
      critical: 10   # child safety
defaults:
  minor_exposure:
    for: 0s
    critical: 10
    window: 5m
engine:
  allowed_lateness: 60s
version: 1
"""
LOWERED = OLD.replace("      critical: 10\n", "      critical: 5\n")


def minor(at: float, area: str = "youth_safety") -> dict:  # type: ignore[type-arg]
    return ev("decision", at, area, verdict="violating", action="remove", minor_audience=True)


def history(tmp: Path) -> Path:
    """5-minute windows of youth_safety minor exposure: 7, 2, 0, 12, 1 (and 7 in body_image
    in the first). With critical 10 only the fourth pages; at 5 the first pages too and
    resolves when the second (2, under the 80 % clear level of 4) closes."""
    counts = [7, 2, 0, 12, 1]
    events = [minor(w * 300 + 10 + i) for w, n in enumerate(counts) for i in range(n)]
    events += [minor(20 + i, "body_image") for i in range(7)]
    events.sort(key=lambda e: e["occurred_at"])
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(line(e) for e in events) + b"\n")
    return path


def config_dir(tmp: Path, name: str, thresholds: str) -> Path:
    d = tmp / name
    d.mkdir()
    (d / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (d / "thresholds.yaml").write_text(thresholds)
    return d / "thresholds.yaml"


def diff(tmp: Path, old: str, new: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "streams.cli", "diff", str(config_dir(tmp, "old", old)),
           str(config_dir(tmp, "new", new)), "--events", str(history(tmp)), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)


def stamp(seconds: int) -> str:
    from datetime import timedelta

    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_lowering_one_level_adds_exactly_the_expected_episode_and_exits_1(
        tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, LOWERED, "--format", "jsonl")
    assert result.returncode == 1, result.stderr
    records = [orjson.loads(r) for r in result.stdout.splitlines()]
    settings = [r for r in records if r["record"] == "setting"]
    assert settings == [{"record": "setting",
                         "field": "areas.youth_safety.minor_exposure.critical",
                         "old": 10.0, "new": 5.0}]
    episodes = [r for r in records if r["record"] == "episode"]
    summary = records[-1]
    assert summary["record"] == "summary" and summary["pages_change"] is True
    assert [{k: e[k] for k in ("change", "policy_area", "market", "signal", "severity",
                               "started_at", "ended_at", "peak_value", "threshold",
                               "config")} for e in episodes] == [
        {"change": "added", "policy_area": "youth_safety", "market": None,
         "signal": "minor_exposure", "severity": "critical", "started_at": stamp(300),
         "ended_at": stamp(600), "peak_value": 7, "threshold": 5,
         "config": summary["new_digest"]}]
    # one page before (the 12 in the fourth window), two after, all on one UTC day
    assert [r for r in records if r["record"] == "pages_per_day"] == [
        {"record": "pages_per_day", "day": "2026-11-24", "before": 1, "after": 2}]


def test_raising_it_back_removes_that_episode(tmp_path: Path) -> None:
    result = diff(tmp_path, LOWERED, OLD)
    assert result.returncode == 1, result.stderr
    assert "areas.youth_safety.minor_exposure.critical: 5 -> 10" in result.stdout
    removed = [r for r in result.stdout.splitlines() if r.strip().startswith("removed")]
    assert len(removed) == 1
    assert "youth_safety minor_exposure from 2026-11-24 10:05:00" in removed[0]
    assert "pages would change: 0 added, 1 removed" in result.stdout


def test_reordered_keys_and_comments_are_no_change_and_exit_0(tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, OLD_REORDERED)
    assert result.returncode == 0, result.stderr
    assert "no change: both configs have digest" in result.stdout
    assert "settings changed" not in result.stdout


def test_markdown_for_a_review(tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, LOWERED, "--format", "markdown")
    assert result.returncode == 1
    out = result.stdout
    assert "**pages would change: 1 added, 0 removed**" in out
    assert "| `areas.youth_safety.minor_exposure.critical` | 10 | 5 |" in out
    assert ("| added | critical | youth_safety | minor_exposure | 2026-11-24 10:05:00 | 5 min "
            "| 7 | 5 |") in out
    assert "| 2026-11-24 | 1 | 2 |" in out


def test_a_warn_only_change_changes_no_page_and_exits_0(tmp_path: Path) -> None:
    warned = OLD.replace("    critical: 10\n    for: 0s\n",
                         "    warn: 5\n    critical: 10\n    for: 0s\n")
    result = diff(tmp_path, OLD, warned)
    assert result.returncode == 0, result.stderr
    added = [r for r in result.stdout.splitlines() if r.strip().startswith("added")]
    # warn 5 reaches every area: youth_safety's first (7) and fourth (12) windows and
    # body_image's first (7)
    assert len(added) == 3 and all(" warn " in r for r in added)
    assert "no page would change on this history" in result.stdout


def test_errors_exit_2_with_the_reason(tmp_path: Path) -> None:
    broken = diff(tmp_path, OLD, OLD.replace("window: 5m", "window: 5 min"))
    assert broken.returncode == 2
    assert "defaults.minor_exposure.window: '5 min' is not a duration" in broken.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diff", str(tmp_path / "old/thresholds.yaml"),
         str(tmp_path / "old/thresholds.yaml"), "--events", str(tmp_path / "nope.jsonl")],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr


def test_an_episode_that_lasts_longer_is_changed_not_added(tmp_path: Path) -> None:
    """Windows of 12, 6, 1: at critical 10 (clear 8) the alert ends when the 6 closes; at 7
    (clear 5.6) the 6 holds it and the 1 ends it, five minutes later."""
    events = [minor(w * 300 + 10 + i) for w, n in enumerate([12, 6, 1]) for i in range(n)]
    path = tmp_path / "longer.jsonl"
    path.write_bytes(b"\n".join(line(e) for e in events) + b"\n")
    lowered = OLD.replace("      critical: 10\n", "      critical: 7\n")
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diff", str(config_dir(tmp_path, "a", OLD)),
         str(config_dir(tmp_path, "b", lowered)), "--events", str(path), "--format", "jsonl"],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr  # the same page, only longer
    episodes = [r for r in map(orjson.loads, result.stdout.splitlines())
                if r["record"] == "episode"]
    assert [(e["change"], e["started_at"], e["ended_at"]) for e in episodes] == [
        ("changed", stamp(300), stamp(900))]


def test_the_owners_of_what_changes_are_named_for_review(tmp_path: Path) -> None:
    new = config_dir(tmp_path, "owned", LOWERED)
    (new.parent / "controls.yaml").write_text(
        "version: 1\ncontrols:\n  youth_safety:\n    minor_exposure: "
        "{owner: youth-safety-policy}\n")
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diff", str(config_dir(tmp_path, "was", OLD)),
         str(new), "--events", str(history(tmp_path)), "--format", "jsonl"],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 1, result.stderr
    owners = [r for r in map(orjson.loads, result.stdout.splitlines())
              if r["record"] == "owner"]
    assert owners == [{"record": "owner", "owner": "youth-safety-policy",
                       "controls": ["youth_safety.minor_exposure"]}]
