"""`harmwatch backtest --incidents --score-out` as a subprocess, on a file with known answers."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import ev, line
from tests.unit.test_backtest_cli import backtest, minor


def history() -> list[bytes]:
    # Three minors in 10:00-10:05 (the 5m window ending 10:05 pages, thresholds in
    # test_backtest_cli), then quiet traffic to 11:00 so an hour of event time is covered.
    out = [line(minor(t, f"m{t}")) for t in (10, 20, 30)]
    out += [line(ev("report", t, "body_image", eid=f"r{t}")) for t in range(60, 3601, 60)]
    return out


def test_score_json_and_table(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents.csv"
    incidents.write_text(
        "policy_area,start,end,signal,label\n"
        "youth_safety,2026-11-24T10:00:00Z,2026-11-24T10:04:00Z,minor_exposure,spike\n"
        "body_image,2026-11-24T10:30:00Z,2026-11-24T10:40:00Z,,surge\n")
    out = tmp_path / "score.json"
    result = backtest(tmp_path, history(), "--incidents", str(incidents), "--score-out", str(out))
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    # The minor-exposure window 10:00-10:05 closes at 10:05: warn and critical fire then.
    assert doc["incidents"] == 2 and doc["detected"] == 1 and doc["false_episodes"] == 0
    assert doc["missed"] == [{"policy_area": "body_image", "signal": None, "label": "surge",
                              "start": "2026-11-24T10:30:00Z", "end": "2026-11-24T10:40:00Z"}]
    assert doc["median_delay_s"] == 300 and doc["max_delay_s"] == 300
    # Data from 10:00 to the last window end (11:05): 1 page in 65 minutes.
    assert doc["span_s"] == 3900
    assert abs(doc["pages_per_day"] - 86400 / 3900) < 1e-9
    assert [r["detected"] for r in doc["per_incident"]] == [True, False]
    text = result.stdout.decode()
    assert "caught 1 of 2 incident(s)" in text and "missed" in text and "5m00s" in text


def test_a_bad_incidents_file_is_refused_before_the_replay(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text("- {policy_area: youth_safety, start: 2026-11-24T10:00:00Z}\n")
    result = backtest(tmp_path, history(), "--incidents", str(incidents))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert f"{incidents}: row 1: end: is empty" in err
    assert "alert episode" not in result.stdout.decode()


def test_html_report_has_the_score_on_top_and_marks_incidents(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents.yaml"
    incidents.write_text(
        "- {policy_area: youth_safety, signal: minor_exposure, label: spike,\n"
        "   start: '2026-11-24T10:00:00Z', end: '2026-11-24T10:04:00Z'}\n"
        "- {policy_area: body_image, label: surge,\n"
        "   start: '2026-11-24T10:30:00Z', end: '2026-11-24T10:40:00Z'}\n")
    page = tmp_path / "report.html"
    result = backtest(tmp_path, history(), "--incidents", str(incidents), "--html", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    score, episodes = text.index('<section class="score">'), text.index("alert episodes")
    # Areas follow the taxonomy file (written with sorted keys): body_image, youth_safety.
    body, youth = text.index("<h2>Body Image"), text.index("<h2>Youth Safety")
    assert score < episodes < body < youth
    assert "caught 1 of 2 incident(s)" in text[score:episodes]
    # body_image never alerted: it is charted only because of its (missed, area-only)
    # incident, on every chart of the area that has windows.
    assert text[body:youth].count("surge: MISSED") == 2
    assert text[youth:].count("spike: caught") == 1 and "surge" not in text[youth:]
