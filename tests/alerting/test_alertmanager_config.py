"""The committed Alertmanager config with amtool: it loads, and routes what it should."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.alerting.alerting_stack import (
    ALERTMANAGER_YML,
    TEMPLATES,
    alertmanager_config,
    binary,
    write_yaml,
)


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("amtool"), *args], capture_output=True, text=True, timeout=60)


def test_amtool_check_config_committed() -> None:
    result = _amtool("check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout and "1 inhibit rules" in result.stdout


def test_amtool_check_config_with_templates_loaded(tmp_path: Path) -> None:
    """The container path of the templates does not exist here; with it pointed at the repo,
    amtool parses the templates too (a syntax error in them fails this)."""
    config = write_yaml(tmp_path / "am.yml", alertmanager_config(5001, tmp_path / "key"))
    result = _amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " - 1 templates" in result.stdout


def test_a_broken_template_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "bad.tmpl").write_text('{{ define "x" }}{{ .Oops ')
    config = alertmanager_config(5001, tmp_path / "key")
    config["templates"] = [str(templates / "*.tmpl")]
    result = _amtool("check-config", str(write_yaml(tmp_path / "am.yml", config)))
    assert result.returncode != 0


@pytest.mark.parametrize(("labels", "receiver"), [
    (["alertname=YouthSafetyMinorExposureCritical", "severity=page",
      "policy_area=youth_safety", "signal=minor_exposure", "team=youth-safety-policy"],
     "pager"),
    (["alertname=YouthSafetyMinorExposureWarn", "severity=ticket",
      "policy_area=youth_safety", "signal=minor_exposure"], "work-queue"),
    (["alertname=HarmwatchConsumerLagHigh", "severity=ticket", "route=engineering",
      "team=harmwatch-eng"], "engineering"),
    (["alertname=HarmwatchExporterDown", "severity=page", "route=engineering",
      "team=harmwatch-eng"], "engineering-pager"),
    (["alertname=SomethingUnlabelled"], "work-queue"),
])
def test_amtool_routes(labels: list[str], receiver: str) -> None:
    result = _amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_YML}",
                     f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_amtool_routes_test_can_fail() -> None:
    result = _amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_YML}",
                     "--verify.receivers=pager", "severity=ticket")
    assert result.returncode != 0


def test_grouping_inhibition_and_resolved() -> None:
    config = yaml.safe_load(ALERTMANAGER_YML.read_text())
    assert config["route"]["group_by"] == ["alertname", "policy_area"]
    [inhibit] = config["inhibit_rules"]
    assert 'severity="page"' in inhibit["source_matchers"]
    assert 'severity="ticket"' in inhibit["target_matchers"]
    assert inhibit["equal"] == ["policy_area", "signal"]
    page_route = next(r for r in config["route"]["routes"]
                      if r["matchers"] == ['severity="page"'])
    assert page_route["group_wait"] == "1s"  # part of the 5 s breach-to-page budget
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["send_resolved"] is True
        for pd in receiver.get("pagerduty_configs", []):
            assert "routing_key" not in pd and pd["routing_key_file"].startswith(
                "/etc/alertmanager/secrets/")
            assert pd["send_resolved"] is True


def test_templates_never_dump_labels_or_annotations() -> None:
    """Only named annotations reach a notification: no `.Labels`/`.Annotations` ranges,
    no SortedPairs, no default templates that print everything."""
    text = "".join(p.read_text() for p in TEMPLATES.glob("*.tmpl"))
    text += ALERTMANAGER_YML.read_text()
    assert "SortedPairs" not in text and "range .Labels" not in text
    assert "range .Annotations" not in text and "__text_alert_list" not in text
    used = set(re.findall(r"\.Annotations\.(\w+)", text))
    used |= set(re.findall(r"\.CommonAnnotations\.(\w+)", text))
    # A relative rule adds its expected value, level in the signal's unit and score: numbers.
    assert used == {"summary", "value", "threshold", "window", "runbook_url", "dashboard_url",
                    "expected", "effective_threshold", "score"}
