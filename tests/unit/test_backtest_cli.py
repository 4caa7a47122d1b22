"""`harmwatch backtest` as a subprocess: exact contract output on a mixed file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
import yaml

from streams.config_files import load_config
from tests.helpers import TAXONOMY, ev, line
from tests.support import HARMWATCH, REPO

THRESHOLDS = {
    "version": 1,
    "engine": {"allowed_lateness": "60s"},
    "defaults": {
        "minor_exposure": {"window": "5m", "warn": 2, "critical": 3, "for": "0s"},
        "report_volume": {"window": "5m", "warn": 100},
        "violation_rate": {"window": "5m", "warn": 0.9, "min_samples": 10},
    },
}


def backtest(tmp: Path, lines: list[bytes], *extra: str) -> subprocess.CompletedProcess[bytes]:
    (tmp / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (tmp / "thresholds.yaml").write_text(yaml.safe_dump(THRESHOLDS))
    events = tmp / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    cmd = [*HARMWATCH, "backtest", "--events", str(events),
           "--config", str(tmp / "thresholds.yaml"), *extra]
    return subprocess.run(cmd, capture_output=True, cwd=REPO, timeout=60)


def minor(at: float, eid: str) -> dict[str, Any]:
    return ev("decision", at, "youth_safety", eid=eid, verdict="violating", action="remove",
              minor_audience=True)


def mixed_file() -> list[bytes]:
    return [
        line(minor(10, "m1")),
        line(minor(20, "m2")),
        b'{"event_id": "broken", "type": "report"',                   # line 3: truncated
        line(minor(5, "m3")),                                          # out of order, in time
        line(minor(20, "m2")),                                         # line 5: duplicate
        line(ev("report", 30, "body_image", eid="r1")),
        line(ev("report", 40, "made_up_area", eid="r2")),              # counts under other
        b"[1, 2]",                                                     # line 8: not an object
        line(ev("decision", 50, eid="bad-det") | {"detection": "robot"}),  # line 9
        line(ev("report", 400, "body_image", eid="r3")),               # next window
        line(minor(100, "too-late")),                                  # line 11: late
        line(ev("report", 700, "body_image", eid="r4")),
        b"",                                                           # blank: skipped
        b"\xff\xfe",                                                   # line 14: bad utf-8
    ]


def test_jsonl_episodes_signals_and_rejects_are_exact(tmp_path: Path) -> None:
    result = backtest(tmp_path, mixed_file(), "--format", "jsonl",
                      "--signals-out", str(tmp_path / "signals.jsonl"),
                      "--rejects-out", str(tmp_path / "rejects.jsonl"))
    assert result.returncode == 0, result.stderr
    episodes = [orjson.loads(x) for x in result.stdout.splitlines()]
    digest = load_config(tmp_path / "thresholds.yaml").digest
    assert episodes == [
        {"policy_area": "youth_safety", "market": None, "signal": "minor_exposure",
         "severity": "warn", "started_at": "2026-11-24T10:05:00Z",
         "ended_at": "2026-11-24T10:10:00Z", "peak_value": 3, "threshold": 2,
         "config_digest": digest},
        {"policy_area": "youth_safety", "market": None, "signal": "minor_exposure",
         "severity": "critical", "started_at": "2026-11-24T10:05:00Z",
         "ended_at": "2026-11-24T10:10:00Z", "peak_value": 3, "threshold": 3,
         "config_digest": digest},
    ]
    rejects = [orjson.loads(x) for x in (tmp_path / "rejects.jsonl").read_bytes().splitlines()]
    assert rejects == [
        {"line": 3, "event_id": None, "reason": "truncated_json"},
        {"line": 8, "event_id": None, "reason": "not_object"},
        {"line": 9, "event_id": "bad-det", "reason": "bad_value:detection"},
        {"line": 14, "event_id": None, "reason": "bad_utf8"},
    ]
    rows = [orjson.loads(x) for x in (tmp_path / "signals.jsonl").read_bytes().splitlines()]
    first = {(r["policy_area"], r["signal"]): r for r in rows
             if r["window_start"] == "2026-11-24T10:00:00Z"}
    assert first[("youth_safety", "minor_exposure")] == {
        "policy_area": "youth_safety", "market": None, "signal": "minor_exposure",
        "window_start": "2026-11-24T10:00:00Z", "window_end": "2026-11-24T10:05:00Z",
        "value": 3, "n": 3}
    assert first[("youth_safety", "violation_rate")]["value"] == 1
    assert first[("body_image", "report_volume")]["value"] == 1
    assert first[("other", "report_volume")]["value"] == 1
    assert ("other", "violation_rate") not in first  # no denominator: no row, never 0
    second = {(r["policy_area"], r["signal"]): r["value"] for r in rows
              if r["window_start"] == "2026-11-24T10:05:00Z"}
    assert second[("youth_safety", "minor_exposure")] == 0  # the late event was not added
    assert second[("body_image", "report_volume")] == 1
    windows = sorted({(r["window_start"], r["window_end"]) for r in rows})
    assert windows == [("2026-11-24T10:00:00Z", "2026-11-24T10:05:00Z"),
                       ("2026-11-24T10:05:00Z", "2026-11-24T10:10:00Z"),
                       ("2026-11-24T10:10:00Z", "2026-11-24T10:15:00Z")]


def test_text_format_is_a_readable_summary(tmp_path: Path) -> None:
    result = backtest(tmp_path, mixed_file())
    assert result.returncode == 0
    out = result.stdout.decode()
    assert "2 alert episode(s)" in out and "minor_exposure" in out and "critical" in out
    assert "7 counted, 1 duplicates, 1 late, 4 invalid" in out
    assert "truncated_json 1" in out


def test_still_firing_at_end_of_file_has_null_end(tmp_path: Path) -> None:
    lines = [line(minor(i, f"m{i}")) for i in range(5)]
    result = backtest(tmp_path, lines, "--format", "jsonl")
    episodes = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert [e["ended_at"] for e in episodes] == [None, None]
    assert episodes[0]["started_at"] == "2026-11-24T10:05:00Z"


def test_exit_codes_for_unreadable_input(tmp_path: Path) -> None:
    missing = subprocess.run([*HARMWATCH, "backtest", "--events",
                              str(tmp_path / "absent.jsonl")], capture_output=True, text=True,
                             cwd=REPO, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "absent.jsonl" in missing.stderr
    (tmp_path / "bad.yaml").write_text("version: 1\ndefaults: {report_volume: {window: 5}}\n")
    (tmp_path / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (tmp_path / "e.jsonl").write_text("")
    bad = subprocess.run([*HARMWATCH, "backtest", "--events",
                          str(tmp_path / "e.jsonl"), "--config", str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2
    assert "defaults.report_volume.window" in bad.stderr


def test_input_is_a_file_or_the_topics_and_an_absent_broker_is_named() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*HARMWATCH, "backtest", *args], capture_output=True, text=True,
                              cwd=REPO, timeout=120)

    neither = run()
    assert neither.returncode == 2 and "--events FILE.jsonl or --from-kafka" in neither.stderr
    both = run("--events", "x.jsonl", "--from-kafka")
    assert both.returncode == 2 and "--events FILE.jsonl or --from-kafka" in both.stderr
    routed = run("--from-kafka", "--partitions", "3")
    assert routed.returncode == 2 and "drop --partitions" in routed.stderr
    # Port 1 on loopback: nothing listens, so the client gives up bootstrapping.
    absent = run("--from-kafka", "--broker", "127.0.0.1:1")
    assert absent.returncode == 2
    assert "cannot read the source topics" in absent.stderr and "127.0.0.1:1" in absent.stderr


def test_empty_file_exits_zero(tmp_path: Path) -> None:
    result = backtest(tmp_path, [], "--format", "jsonl")
    assert result.returncode == 0 and result.stdout == b""


def test_html_report_charts_each_alerting_signal(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = backtest(tmp_path, mixed_file(), "--html", str(report))
    assert result.returncode == 0
    page = report.read_text()
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 1  # one signal alerted: youth_safety minor_exposure
    assert "Youth Safety" in page and "minor_exposure" in page
    assert "critical 3" in page and "warn 2" in page  # the levels are drawn
    assert page.count("<td class=\"critical\">critical</td>") == 1
    everything = tmp_path / "all.html"
    backtest(tmp_path, mixed_file(), "--html", str(everything), "--all-areas")
    assert everything.read_text().count("<svg") > 3
