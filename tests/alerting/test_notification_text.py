"""The committed notification templates rendered by amtool, against text written by hand.

The annotations are given as Prometheus sends them (its queries already evaluated): a
relative rule's `threshold` is a score level, so its text must show the value against the
expected value and the level in the signal's own unit, and the score against the score
level, never "value 12, threshold 5"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.alerting.alerting_stack import TEMPLATES, binary

COMMON = {"runbook_url": "https://runbooks.example.com/harmwatch/scams_fraud",
          "dashboard_url": "http://grafana.example:3000/d/harmwatch-scams-fraud"}


def render(tmp_path: Path, annotations: dict[str, str], name: str) -> str:
    data: dict[str, Any] = {
        "receiver": "pager", "status": "firing", "externalURL": "http://am.example",
        "groupLabels": {}, "commonLabels": {"alertname": name}, "commonAnnotations": {},
        "alerts": [{"status": "firing", "startsAt": "2026-11-24T09:28:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "labels": {"alertname": name, "policy_area": "scams_fraud",
                               "severity": "page"},
                    "annotations": {**annotations, **COMMON}}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    result = subprocess.run(
        [binary("amtool"), "template", "render", f"--template.glob={TEMPLATES}/*.tmpl",
         '--template.text={{ template "harmwatch.text.firing" . }}',
         f"--template.data={path}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_relative_alert_shows_expected_threshold_in_unit_and_score(tmp_path: Path) -> None:
    text = render(tmp_path, {
        "summary": "Scams and fraud: regulator_reports far above the area's own baseline",
        "value": "12", "expected": "2.2", "effective_threshold": "13", "score": "5.45",
        "threshold": "5", "window": "10m"}, "ScamsFraudRegulatorReportsCritical")
    assert text == (
        "ScamsFraudRegulatorReportsCritical [scams_fraud]: Scams and fraud: regulator_reports "
        "far above the area's own baseline\n"
        "  value 12, expected 2.2, threshold now 13, window 10m\n"
        "  score 5.45, score level 5\n"
        "  since 2026-11-24 09:28:00Z\n"
        "  runbook: https://runbooks.example.com/harmwatch/scams_fraud\n"
        "  dashboard: http://grafana.example:3000/d/harmwatch-scams-fraud\n")


def test_an_absolute_alert_still_shows_value_and_threshold(tmp_path: Path) -> None:
    text = render(tmp_path, {"summary": "Scams and fraud: report_volume at or above the "
                             "critical threshold", "value": "1200", "threshold": "1000",
                             "window": "5m"}, "ScamsFraudReportVolumeCritical")
    assert text == (
        "ScamsFraudReportVolumeCritical [scams_fraud]: Scams and fraud: report_volume at or "
        "above the critical threshold\n"
        "  value 1200, threshold 1000, window 5m\n"
        "  since 2026-11-24 09:28:00Z\n"
        "  runbook: https://runbooks.example.com/harmwatch/scams_fraud\n"
        "  dashboard: http://grafana.example:3000/d/harmwatch-scams-fraud\n")
