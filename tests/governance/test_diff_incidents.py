"""`harmwatch diff --incidents`: incidents newly caught or lost, and their delays.

The history and the incidents are built by hand so every answer is known: youth_safety
minor exposure per 5-minute window is 7, then 1 for seven windows, then 12, then 1 (and 7
in body_image's first window). OLD (critical 10) pages once, when the 12 window closes at
+45 min; LOWERED (critical 5) also pages when the first window closes at +5 min. The
matching rule: the first episode of the area (and signal, if named) starting from 2 min
before the incident's start to 20 min after its end; delay = episode start - incident start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.governance.test_diff_cli import LOWERED, OLD, config_dir, minor
from tests.helpers import line
from tests.support import REPO

COUNTS = [7, 1, 1, 1, 1, 1, 1, 1, 12, 1]
# incident (area, signal, start s, end s, label) -> OLD's and LOWERED's catching episode:
#   B: [-20 s, 1400 s] holds only LOWERED's +300 s page      -> newly caught, delay 200 s
#   F: [160 s, 2800 s] holds both; OLD's first is +2700 s     -> earlier, 2420 s -> 20 s
#   C: [2480 s, 3900 s] holds only the +2700 s page (both)    -> same, 100 s
#   D: body_image never alerts (7 < 10 in both)               -> missed by both
INCIDENTS = """\
policy_area,start,end,signal,label
youth_safety,2026-11-24T10:01:40Z,2026-11-24T10:03:20Z,minor_exposure,B
youth_safety,2026-11-24T10:04:40Z,2026-11-24T10:26:40Z,,F
youth_safety,2026-11-24T10:43:20Z,2026-11-24T10:45:00Z,minor_exposure,C
body_image,2026-11-24T10:00:00Z,2026-11-24T10:01:40Z,,D
"""


def history(tmp: Path) -> Path:
    events = [minor(w * 300 + 10 + i) for w, n in enumerate(COUNTS) for i in range(n)]
    events += [minor(20 + i, "body_image") for i in range(7)]
    events.sort(key=lambda e: e["occurred_at"])
    path = tmp / "events.jsonl"
    path.write_bytes(b"\n".join(line(e) for e in events) + b"\n")
    return path


def diff(tmp: Path, old: str, new: str, *extra: str) -> subprocess.CompletedProcess[str]:
    incidents = tmp / "incidents.csv"
    incidents.write_text(INCIDENTS)
    cmd = [sys.executable, "-m", "streams.cli", "diff", str(config_dir(tmp, "old", old)),
           str(config_dir(tmp, "new", new)), "--events", str(history(tmp)),
           "--incidents", str(incidents), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)


def records(stdout: str) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(r) for r in stdout.splitlines()]


def test_lowering_the_level_newly_catches_one_and_catches_another_earlier(
        tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, LOWERED, "--format", "jsonl")
    assert result.returncode == 1, result.stderr  # a page is added: exit code as without
    out = records(result.stdout)
    incidents = [r for r in out if r["record"] == "incident"]
    assert [(r["label"], r["change"], r["before"]["delay_s"], r["after"]["delay_s"])
            for r in incidents] == [("B", "caught", None, 200.0),
                                    ("F", "earlier", 2420.0, 20.0),
                                    ("C", "same", 100.0, 100.0),
                                    ("D", "missed", None, None)]
    summary = out[-1]
    assert summary["incidents"] == {
        "source": str(tmp_path / "incidents.csv"), "total": 4, "detected_before": 2,
        "detected_after": 3, "median_delay_before_s": (2420 + 100) / 2,
        "median_delay_after_s": 100.0, "lost": 0, "caught": 1, "later": 0, "earlier": 1,
        "same": 1, "missed": 1}
    b = incidents[0]
    assert b["after"]["started_at"] == "2026-11-24T10:05:00+00:00"  # as diff episodes
    assert (b["after"]["severity"], b["after"]["signal"]) == ("critical", "minor_exposure")
    # each side names the digest of the config that produced it
    assert b["before"]["config_digest"] == summary["old_digest"]
    assert b["after"]["config_digest"] == summary["new_digest"]


def test_raising_it_back_loses_one_and_catches_another_later(tmp_path: Path) -> None:
    result = diff(tmp_path, LOWERED, OLD)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert ("incidents " + str(tmp_path / "incidents.csv") + ": caught 3 -> 2 of 4 (0 newly "
            "caught, 1 lost, 0 earlier, 1 later, 1 unchanged, 1 missed by both); median delay "
            "1m40s -> 21m00s") in out
    lines = [x.strip() for x in out.splitlines()]
    assert ('lost     youth_safety minor_exposure from 2026-11-24 10:01:40 "B": delay 3m20s '
            "-> —") in lines
    assert ('later    youth_safety (any signal) from 2026-11-24 10:04:40 "F": delay 0m20s '
            "-> 40m20s (by minor_exposure critical)") in lines
    assert not any(x.startswith(("same ", "missed ")) for x in lines)  # only what moved
    (tmp_path / "md").mkdir()
    markdown = diff(tmp_path / "md", LOWERED, OLD, "--format", "markdown").stdout
    assert "**1 known incident(s) caught before would be missed**" in markdown


def test_markdown_lists_what_moved(tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, LOWERED, "--format", "markdown")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "caught 2 → 3 of 4 (1 newly caught, 0 lost, 1 earlier" in out
    assert "would be missed" not in out  # nothing lost
    assert ("| caught | youth_safety | minor_exposure | 2026-11-24 10:01:40 | B | — | 3m20s "
            "| minor_exposure critical |") in out
    assert ("| earlier | youth_safety | (any) | 2026-11-24 10:04:40 | F | 40m20s | 0m20s "
            "| minor_exposure critical |") in out
    assert "| D |" not in out and "| C |" not in out


def test_no_page_change_still_exits_0_with_incidents(tmp_path: Path) -> None:
    result = diff(tmp_path, OLD, OLD.replace("version: 1\n", "version: 1  # reviewed\n"))
    assert result.returncode == 0, result.stderr
    assert "caught 2 -> 2 of 4 (0 newly caught, 0 lost, 0 earlier, 0 later, 2 unchanged, " \
           "2 missed by both)" in result.stdout


def test_a_bad_incidents_file_exits_2_naming_the_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("policy_area,start,end\nyouth_safty,2026-11-24T10:00:00Z,"
                   "2026-11-24T10:05:00Z\n")
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diff", str(config_dir(tmp_path, "a", OLD)),
         str(config_dir(tmp_path, "b", LOWERED)), "--events", str(history(tmp_path)),
         "--incidents", str(bad)], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2
    assert f"{bad}: line 2: policy_area: 'youth_safty' is not an area" in result.stderr
    assert result.stdout == ""
