"""`harmwatch audit report` on a fixture period (two versions, a refused reload, four
episodes known by hand: see audit_fixture.py), rendered in headless Chromium."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from tests.governance.audit_fixture import PERIOD, build
from tests.governance.png import ink_share
from tests.support import REPO


def report(tmp: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    f = build(tmp)
    out = tmp / "pack"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "audit", "report", "--from", PERIOD[0], "--to",
         PERIOD[1], "--out", str(out), "--events", str(f["events"]), "--audit-log",
         str(f["log"]), "--config", str(f["thresholds"])],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    return out, result


def digests(out: Path) -> tuple[str, str]:
    with (out / "versions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["in_force_from"], r["until"], r["trigger"]) for r in rows] == [
        ("2026-11-24T09:00:00Z", "2026-11-24T10:15:00Z", "start"),
        ("2026-11-24T10:15:00Z", "", "reload")]
    return rows[0]["digest"], rows[1]["digest"]


def test_pack_holds_versions_changes_and_the_episodes_of_the_version_in_force(
        tmp_path: Path) -> None:
    out, result = report(tmp_path)
    assert result.returncode == 0, result.stderr
    v1, v2 = digests(out)
    with (out / "episodes.csv").open() as handle:
        episodes = [(r["started_at"], r["ended_at"], r["policy_area"], r["severity"],
                     r["threshold"], r["config"]) for r in csv.DictReader(handle)]
    assert episodes == [
        ("2026-11-24T10:05:00Z", "2026-11-24T10:10:00Z", "youth_safety", "critical", "10", v1),
        ("2026-11-24T10:20:00Z", "2026-11-24T10:25:00Z", "youth_safety", "critical", "5", v2),
        ("2026-11-24T10:30:00Z", "2026-11-24T10:35:00Z", "body_image", "critical", "10", v2),
        ("2026-11-24T10:30:00Z", "2026-11-24T10:35:00Z", "youth_safety", "critical", "5", v2),
    ]
    with (out / "changes.csv").open() as handle:
        assert list(csv.reader(handle))[1:] == [
            ["2026-11-24T10:15:00.000Z", v1, v2, "areas.youth_safety.minor_exposure.critical",
             "10.0", "5.0"]]
    with (out / "controls.csv").open() as handle:
        controls = {(r["policy_area"], r["signal"]): r for r in csv.DictReader(handle)}
    youth = controls[("youth_safety", "minor_exposure")]
    assert (youth["owner"], youth["episodes"], youth["minutes_in_alert"]) == (
        "youth-safety-policy", "3", "15.0")
    assert controls[("body_image", "minor_exposure")]["episodes"] == "1"
    assert controls[("adult_nudity", "minor_exposure")]["owner"] == ""
    pack = orjson.loads((out / "report.json").read_bytes())
    assert [r["reason"] for r in pack["refusals"]] == [
        f"{tmp_path}/config/thresholds.yaml: defaults.minor_exposure.window: '5 min' is not a "
        "duration; write it like 30s, 5m, 1h or 1h30m"]
    levels = next(c["levels"] for c in pack["controls"]
                  if (c["policy_area"], c["signal"]) == ("youth_safety", "minor_exposure"))
    assert levels == [{"digest": v1, "warn": None, "critical": 10.0},
                      {"digest": v2, "warn": None, "critical": 5.0}]


def test_a_period_before_the_reload_holds_one_version(tmp_path: Path) -> None:
    f = build(tmp_path)
    out = tmp_path / "early"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "audit", "report", "--from",
         "2026-11-24T09:00:00Z", "--to", "2026-11-24T10:15:00Z", "--out", str(out),
         "--events", str(f["events"]), "--audit-log", str(f["log"]), "--config",
         str(f["thresholds"])], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    pack = orjson.loads((out / "report.json").read_bytes())
    assert len(pack["versions"]) == 1 and pack["refusals"] == []
    assert [e["started_at"] for e in pack["episodes"]] == ["2026-11-24T10:05:00+00:00"]


class Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[bytes]:
    path = shutil.which("chromium")
    assert path, "chromium not found: run scripts/install-system-deps.sh"
    return subprocess.run(
        [path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, timeout=120)


@pytest.mark.integration
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    out, result = report(tmp_path)
    assert result.returncode == 0, result.stderr
    v1, v2 = digests(out)
    page = (out / "index.html").resolve().as_uri()

    dom = chromium("--dump-dom", page, profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")
    parsed = Rows()
    parsed.feed(dom.stdout.decode())
    rows = parsed.rows
    assert [r["data-digest"] for r in rows if r.get("class") == "version"] == [v1, v2]
    assert [(r["data-area"], r["data-signal"]) for r in rows
            if r.get("class") == "episode"] == [
        ("youth_safety", "minor_exposure"), ("youth_safety", "minor_exposure"),
        ("body_image", "minor_exposure"), ("youth_safety", "minor_exposure")]
    alerted = {(r["data-area"], r["data-episodes"]) for r in rows
               if r.get("class") == "control alerted"}
    assert alerted == {("youth_safety", "3"), ("body_image", "1")}
    assert sum(1 for r in rows if r.get("class") == "refusal") == 1
    text = "".join(parsed.text)
    assert "areas.youth_safety.minor_exposure.critical: 10 -> 5" in text
    assert "2 config version(s) in force" in text and "4 alert episode(s)" in text

    shot = tmp_path / "shot.png"
    taken = chromium("--window-size=1400,1100", f"--screenshot={shot}", page,
                     profile=tmp_path / "profile")
    assert taken.returncode == 0 and shot.is_file(), taken.stderr.decode(errors="replace")
    ink, colours = ink_share(shot.read_bytes())
    assert ink > 0.05 and colours > 50, (ink, colours)

    # the same check on an empty page: it must be able to fail
    blank = tmp_path / "blank.html"
    blank.write_text("<!doctype html><html><body></body></html>")
    empty_shot = tmp_path / "blank.png"
    chromium("--window-size=1400,1100", f"--screenshot={empty_shot}", blank.as_uri(),
             profile=tmp_path / "profile")
    assert ink_share(empty_shot.read_bytes())[0] < 0.001


def test_errors_exit_2(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streams.cli", "audit", "report", *args],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    missing = run("--from", "2026-11-24", "--to", "2026-11-25", "--out", str(tmp_path / "o"),
                  "--audit-log", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 2 and "no audit log at" in missing.stderr
    log = tmp_path / "a.jsonl"
    log.write_text("")
    naive = run("--from", "2026-11-24T10:00:00", "--to", "2026-11-25", "--out",
                str(tmp_path / "o"), "--audit-log", str(log))
    assert naive.returncode == 2 and "has no UTC offset" in naive.stderr
    backwards = run("--from", "2026-11-25", "--to", "2026-11-24", "--out",
                    str(tmp_path / "o"), "--audit-log", str(log))
    assert backwards.returncode == 2 and "--to must be after --from" in backwards.stderr


def test_a_hand_edited_record_is_reported_not_trusted(tmp_path: Path) -> None:
    f = build(tmp_path)
    with f["log"].open("a") as handle:
        handle.write('{"event": "accepted", "digest": "feedfeedfeed"}\n')  # no time
    out = tmp_path / "pack"
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "audit", "report", "--from", PERIOD[0], "--to",
         PERIOD[1], "--out", str(out), "--audit-log", str(f["log"]), "--config",
         str(f["thresholds"])], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"warning: {f['log']}: record 4: no readable time; skipped" in result.stderr
    pack = orjson.loads((out / "report.json").read_bytes())
    assert len(pack["versions"]) == 2 and pack["episodes"] is None
