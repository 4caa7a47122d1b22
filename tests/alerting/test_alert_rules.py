"""Generated Prometheus rules: their shape, the committed file, and promtool on both."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.formats import go_humanize_duration
from alerts.harm_rules import HARM_FOR_S, harm_alerts
from alerts.naming import alert_name, area_dashboard_uid, camel
from alerts.rule_tests import rule_tests
from alerts.rules import dump_yaml, pipeline_only, render_rules, rules_document
from signals.config import Config, parse_taxonomy, parse_thresholds
from tests.alerting.alerting_stack import HARMWATCH, PROMETHEUS_YML, RULES, binary
from tests.support import REPO

GRAFANA = "http://grafana.example:3000"


def _harm_rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = next(g for g in doc["groups"]
                                       if g["name"] == "harmwatch-harm")["rules"]
    return rules


def test_names_are_readable_camel_case() -> None:
    assert camel("youth_safety") == "YouthSafety"
    assert camel("review_latency_p95") == "ReviewLatencyP95"
    assert alert_name("youth_safety", "minor_exposure", "critical") == \
        "YouthSafetyMinorExposureCritical"


def test_one_alert_per_area_signal_and_set_level(config: Config) -> None:
    rules = _harm_rules(rules_document(config, GRAFANA))
    expected = {(a, s, sev) for (a, s), r in config.rules.items()
                for sev in ("warn", "critical") if r.level(sev) is not None}
    got = {(r["labels"]["policy_area"], r["labels"]["signal"],
            "critical" if r["labels"]["severity"] == "page" else "warn") for r in rules}
    assert got == expected
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert "YouthSafetyMinorExposureCritical" in names


def test_unset_level_gets_no_alert() -> None:
    taxonomy = parse_taxonomy({"version": 1, "areas": {"youth_safety": {
        "name": "Youth safety", "owner": "ys-policy",
        "runbook_url": "https://runbooks.example.com/ys"}}})
    config = parse_thresholds({"version": 1, "defaults": {
        "minor_exposure": {"window": "5m", "critical": 10, "for": "2m"}}}, taxonomy)
    names = [r["alert"] for r in _harm_rules(rules_document(config, GRAFANA))]
    assert "YouthSafetyMinorExposureCritical" in names
    assert not [n for n in names if n.endswith("Warn")]


def test_labels_and_annotations_of_a_page(config: Config) -> None:
    rule = next(r for r in _harm_rules(rules_document(config, GRAFANA))
                if r["alert"] == "YouthSafetyMinorExposureCritical")
    assert rule["labels"] == {"severity": "page", "policy_area": "youth_safety",
                              "signal": "minor_exposure", "team": "youth-safety-policy"}
    assert 'harmwatch_alert_state{policy_area="youth_safety",market="",' \
           'signal="minor_exposure",severity="critical"}' in rule["expr"]
    assert rule["expr"].endswith("== 2")
    assert rule["for"] == f"{HARM_FOR_S}s" and rule["keep_firing_for"] == "30s"
    ann = rule["annotations"]
    assert ann["runbook_url"] == "https://runbooks.example.com/harmwatch/youth_safety"
    assert ann["dashboard_url"] == f"{GRAFANA}/d/{area_dashboard_uid('youth_safety')}"
    assert ann["window"] == "10m"
    # The description names value and threshold (queried live, config level as fallback).
    assert "harmwatch_signal_value{" in ann["description"]
    assert "harmwatch_signal_threshold{" in ann["description"]
    assert "{{ else }}4{{ end }}" in ann["threshold"]
    # minor_exposure is relative by default: value against expected, score against level.
    assert "harmwatch_signal_expected{" in ann["description"]
    assert "window's surprise is {{ with query `harmwatch_signal_score{" in ann["description"]
    # ... and the level in the signal's own unit, next to the value it compares with.
    assert "the critical level is {{ with query `harmwatch_signal_effective_threshold{" in \
        ann["description"]
    assert 'severity="critical"}` }}' in ann["effective_threshold"]


def test_warn_is_a_ticket(config: Config) -> None:
    rule = next(r for r in _harm_rules(rules_document(config, GRAFANA))
                if r["alert"] == "AdultNudityReportSurgeWarn")
    assert rule["labels"]["severity"] == "ticket"
    assert rule["labels"]["team"] == "adult-content-policy"
    # report_surge is count_surprise by default: its level 4 is a surprise score, printed as
    # a plain number (not "4x", the unit of the absolute surge ratio).
    ann = rule["annotations"]
    assert "{{ else }}4{{ end }}" in ann["threshold"]
    assert "harmwatch_signal_score{" in ann["score"] and "harmwatch_signal_score{" in \
        ann["description"]
    assert "harmwatch_signal_expected{" in ann["expected"]
    assert "the area's expected" in ann["description"]


def test_pipeline_alerts_route_to_engineering(config: Config) -> None:
    group = next(g for g in rules_document(config, GRAFANA)["groups"]
                 if g["name"] == "harmwatch-pipeline")
    names = {r["alert"] for r in group["rules"]}
    assert {"HarmwatchExporterDown", "HarmwatchNoEvents", "HarmwatchInvalidEventsHigh",
            "HarmwatchConsumerLagHigh"} <= names
    for rule in group["rules"]:
        assert rule["labels"]["team"] == "harmwatch-eng"
        assert rule["labels"]["route"] == "engineering"
        assert rule["labels"]["severity"] in ("page", "ticket")
    down = next(r for r in group["rules"] if r["alert"] == "HarmwatchExporterDown")
    assert down["labels"]["severity"] == "page"
    assert "absent(up{job=\"harmwatch\"})" in down["expr"]
    lag = next(r for r in group["rules"] if r["alert"] == "HarmwatchConsumerLagHigh")
    assert "harmwatch_consumer_lag" in lag["expr"]


def test_generation_is_deterministic_and_uses_the_grafana_url(config: Config) -> None:
    assert render_rules(config, GRAFANA) == render_rules(config, GRAFANA)
    assert "http://other:3000/d/" in render_rules(config, "http://other:3000/")


def test_humanize_duration_matches_prometheus() -> None:
    # Reference values from Prometheus' template tests (template_test.go).
    assert go_humanize_duration(0) == "0s"
    assert go_humanize_duration(1) == "1s"
    assert go_humanize_duration(60) == "1m 0s"
    assert go_humanize_duration(3600) == "1h 0m 0s"
    assert go_humanize_duration(86400) == "1d 0h 0m 0s"
    assert go_humanize_duration(7200) == "2h 0m 0s"
    assert go_humanize_duration(1.5) == "1.5s"
    assert go_humanize_duration(0.1) == "100ms"


def test_committed_rules_are_current(config: Config) -> None:
    """The committed file is exactly what the generator writes (CI also runs
    scripts/check-generated.sh, which regenerates every artifact)."""
    assert RULES.read_text() == render_rules(config, "http://localhost:3000")
    head = RULES.read_text().splitlines()[0]
    assert head.startswith("# DO NOT EDIT") and "harmwatch rules generate" in head


def test_cli_writes_rules_to_stdout(tmp_path: Path) -> None:
    out = subprocess.run([HARMWATCH, "rules", "generate", "--grafana-url", GRAFANA],
                         capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"})
    doc = yaml.safe_load(out.stdout)
    assert len(_harm_rules(doc)) > 100
    target = tmp_path / "rules.yml"
    subprocess.run([HARMWATCH, "rules", "generate", "--output", str(target)], check=True,
                   capture_output=True)
    assert yaml.safe_load(target.read_text()) == yaml.safe_load(RULES.read_text())


# --- promtool -------------------------------------------------------------------------------


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _write_tests(config: Config, rules_file: Path, workdir: Path) -> list[str]:
    rules = yaml.safe_load(rules_file.read_text())
    pipeline = workdir / "pipeline-rules.yml"
    pipeline.write_text(dump_yaml(pipeline_only(rules)))
    names = []
    for name, doc in rule_tests(config, "http://localhost:3000", str(rules_file),
                                str(pipeline)).items():
        (workdir / name).write_text(dump_yaml(doc))
        names.append(str(workdir / name))
    return names


def test_promtool_unit_tests_every_alert(config: Config, tmp_path: Path) -> None:
    """Each alert: silent just before its `for`, firing just after with exact labels and
    annotations; pipeline alerts likewise; scrape gaps and restarts do not resolve a page."""
    files = _write_tests(config, RULES, tmp_path)
    cases = yaml.safe_load(Path(files[0]).read_text())["tests"][0]["alert_rule_test"]
    assert {c["alertname"] for c in cases} == {alert_name(*k) for k in harm_alerts(config)}
    result = _promtool("test", "rules", *files)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("SUCCESS") == 2


def _small_config() -> Config:
    taxonomy = parse_taxonomy({"version": 1, "areas": {"youth_safety": {
        "name": "Youth safety", "owner": "youth-safety-policy",
        "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety"}}})
    return parse_thresholds({"version": 1, "defaults": {
        "minor_exposure": {"window": "5m", "step": "1m", "warn": 6, "critical": 12,
                           "for": "2m"},
        "violation_rate": {"window": "5m", "critical": 0.75, "min_samples": 50},
        "review_latency_p95": {"window": "5m", "warn": 7200, "min_samples": 20},
    }}, taxonomy)


def test_promtool_cases_on_a_small_config(tmp_path: Path) -> None:
    """Every value format (count, ratio, duration) renders as the cases expect."""
    config = _small_config()
    rules = tmp_path / "rules.yml"
    rules.write_text(render_rules(config, "http://localhost:3000"))
    result = _promtool("test", "rules", *_write_tests(config, rules, tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize("change", [
    ("for: 1s", "for: 0s"),            # fires one evaluation too early
    ("team: youth-safety-policy", "team: someone-else"),
    ("keep_firing_for: 30s", "keep_firing_for: 0s"),   # a restart would resolve the page
    ("[5m])) == 2", "[1s])) == 2"),   # a scrape gap would resolve the page
    ("humanizePercentage", "humanize"),
])
def test_promtool_cases_catch_a_broken_rule(tmp_path: Path, change: tuple[str, str]) -> None:
    config = _small_config()
    text = render_rules(config, "http://localhost:3000")
    assert change[0] in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(change[0], change[1]))
    result = _promtool("test", "rules", _write_tests(config, broken, tmp_path)[0])
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_promtool_check_prometheus_config() -> None:
    """rule_files must resolve: promtool follows the glob relative to prometheus.yml."""
    result = _promtool("check", "config", str(PROMETHEUS_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert str(RULES.relative_to(REPO / "deploy/prometheus")) in result.stdout
    doc = yaml.safe_load(RULES.read_text())
    total = sum(len(g["rules"]) for g in doc["groups"])
    assert f"SUCCESS: {total} rules found" in result.stdout


def test_check_generated_passes_and_detects_drift(tmp_path: Path) -> None:
    """scripts/check-generated.sh on a copy of the repo: clean, then after a threshold edit
    without regeneration."""
    import shutil

    for part in ("scripts", "config", "deploy/prometheus", "deploy/grafana"):
        shutil.copytree(REPO / part, tmp_path / part)
    script = tmp_path / "scripts/check-generated.sh"
    env = {"PATH": "/usr/bin:/bin", "HARMWATCH": HARMWATCH}
    clean = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                           timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    thresholds = tmp_path / "config/thresholds.yaml"
    thresholds.write_text(thresholds.read_text().replace("      warn: 3\n", "      warn: 3.5\n", 1))
    drift = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                           timeout=120)
    assert drift.returncode == 1
    assert "generated files are stale" in drift.stderr
    assert "+      threshold: '{{ with query `harmwatch_signal_threshold{policy_area=" \
           '"youth_safety",signal="minor_exposure",severity="warn"}` }}' in drift.stdout
    assert "{{ else }}3.5{{ end }}" in drift.stdout
