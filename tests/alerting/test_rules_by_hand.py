"""The harm rule group of a tiny config, written out by hand (issue #8 item 5).

Everything expected here is typed in, not produced by the generator or its helpers: a
change to a name, an expression, a label or an annotation shows up as a diff against text a
person wrote and read.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from alerts.rules import dump_yaml, pipeline_only, render_rules
from signals.config import Config, parse_taxonomy, parse_thresholds
from streams.config_files import load_config
from tests.alerting.alerting_stack import RULES, binary

GRAFANA = "http://grafana.example:3000"


def _tiny_config() -> Config:
    """One area, one signal, warn and critical. ``other`` (always in the taxonomy) is
    switched off so the group holds exactly two alerts."""
    taxonomy = parse_taxonomy({"version": 1, "areas": {"youth_safety": {
        "name": "Youth safety", "owner": "youth-safety-policy",
        "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety"}}})
    return parse_thresholds({
        "version": 1,
        "defaults": {"minor_exposure": {"window": "5m", "warn": 6, "warn_clear": 5,
                                        "critical": 12, "critical_clear": 10, "for": "2m",
                                        "min_samples": 3}},
        "areas": {"other": {"minor_exposure": {"enabled": False}}},
    }, taxonomy)


VALUE = ('{{ with query `harmwatch_signal_value{policy_area="youth_safety",market="",'
         'signal="minor_exposure"}` }}{{ . | first | value | printf "%.4g" }}'
         '{{ else }}no value{{ end }}')
WARN_THRESHOLD = ('{{ with query `harmwatch_signal_threshold{policy_area="youth_safety",'
                  'signal="minor_exposure",severity="warn"}` }}'
                  '{{ . | first | value | printf "%.4g" }}{{ else }}6{{ end }}')
CRITICAL_THRESHOLD = ('{{ with query `harmwatch_signal_threshold{policy_area="youth_safety",'
                      'signal="minor_exposure",severity="critical"}` }}'
                      '{{ . | first | value | printf "%.4g" }}{{ else }}12{{ end }}')

TINY_DIGEST = "ce7e135b15fa"

EXPECTED_HARM_GROUP: dict[str, Any] = {
    "name": "harmwatch-harm",
    "interval": "1s",
    "rules": [
        {
            "alert": "YouthSafetyMinorExposureWarn",
            "expr": 'max by (policy_area, signal) (last_over_time(harmwatch_alert_state'
                    '{policy_area="youth_safety",market="",signal="minor_exposure",'
                    'severity="warn"}[5m])) == 2',
            "for": "1s",
            "keep_firing_for": "30s",
            "labels": {"severity": "ticket", "policy_area": "youth_safety",
                       "signal": "minor_exposure", "team": "youth-safety-policy"},
            "annotations": {
                "summary": "Youth safety: minor_exposure at or above the warning threshold",
                "description": "minor_exposure (violating decisions on content that reached or "
                               f"targeted minors) is {VALUE} over the last 5m event-time "
                               f"window; warning threshold {WARN_THRESHOLD} (decisions). The "
                               "breach lasted 2m of event time, at least 3 samples per "
                               "window; the alert resolves once the value falls below 5.",
                "value": VALUE,
                "threshold": WARN_THRESHOLD,
                "window": "5m",
                "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety",
                "dashboard_url": "http://grafana.example:3000/d/harmwatch-youth-safety",
                # The tiny config's digest (signals.config), typed in: a change to the
                # config or to how it is hashed shows here.
                "config_digest": TINY_DIGEST,
            },
        },
        {
            "alert": "YouthSafetyMinorExposureCritical",
            "expr": 'max by (policy_area, signal) (last_over_time(harmwatch_alert_state'
                    '{policy_area="youth_safety",market="",signal="minor_exposure",'
                    'severity="critical"}[5m])) == 2',
            "for": "1s",
            "keep_firing_for": "30s",
            "labels": {"severity": "page", "policy_area": "youth_safety",
                       "signal": "minor_exposure", "team": "youth-safety-policy"},
            "annotations": {
                "summary": "Youth safety: minor_exposure at or above the critical threshold",
                "description": "minor_exposure (violating decisions on content that reached or "
                               f"targeted minors) is {VALUE} over the last 5m event-time "
                               f"window; critical threshold {CRITICAL_THRESHOLD} (decisions). "
                               "The breach lasted 2m of event time, at least 3 samples per "
                               "window; the alert resolves once the value falls below 10.",
                "value": VALUE,
                "threshold": CRITICAL_THRESHOLD,
                "window": "5m",
                "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety",
                "dashboard_url": "http://grafana.example:3000/d/harmwatch-youth-safety",
                # The tiny config's digest (signals.config), typed in: a change to the
                # config or to how it is hashed shows here.
                "config_digest": TINY_DIGEST,
            },
        },
    ],
}


def _groups() -> dict[str, dict[str, Any]]:
    # Through the YAML text, as Prometheus reads it.
    doc = yaml.safe_load(render_rules(_tiny_config(), GRAFANA))
    return {group["name"]: group for group in doc["groups"]}


def test_harm_group_of_a_tiny_config_equals_the_hand_written_one() -> None:
    got = _groups()["harmwatch-harm"]
    # Rule by rule first, so a failure names the alert that differs.
    for expected, actual in zip(EXPECTED_HARM_GROUP["rules"], got["rules"], strict=True):
        assert actual == expected, expected["alert"]
    assert got == EXPECTED_HARM_GROUP


def test_rendered_file_starts_with_the_do_not_edit_header() -> None:
    lines = render_rules(_tiny_config(), GRAFANA).splitlines()
    assert lines[0] == ("# DO NOT EDIT: generated by `harmwatch rules generate --output "
                        "deploy/prometheus/rules/harmwatch-alerts.yml`")
    assert lines[1] == (f"# from the thresholds config (digest {TINY_DIGEST}; every alert "
                        "carries it as its config_digest")
    assert lines[2] == "# annotation). Edit config/*.yaml and regenerate;"
    assert lines[3] == "# scripts/check-generated.sh (run by CI) fails when this file is stale."


# --- the invalid share sees input too broken to name its stream (issue #9 item 3) -----------

# The digest of the shipped config the committed rules come from, as signals.config hashes
# it (not read off the rules file under test).
SHIPPED_DIGEST = load_config(RULES.parents[3] / "config/thresholds.yaml").digest

GARBAGE_ONLY_CASE: dict[str, Any] = {
    "interval": "15s",
    # A producer that sends only lines that are not JSON: harmwatch counts them under
    # stream="unknown", and no valid counter exists at all.
    "input_series": [{"series": 'harmwatch_invalid_events_total{job="harmwatch",'
                                'instance="127.0.0.1:9464",stream="unknown",reason="not_json"}',
                      "values": "0+20x30"}],
    "alert_rule_test": [
        {"eval_time": "5m", "alertname": "HarmwatchInvalidEventsHigh", "exp_alerts": []},
        {"eval_time": "5m15s", "alertname": "HarmwatchInvalidEventsHigh", "exp_alerts": [{
            "exp_labels": {"stream": "all", "severity": "ticket", "team": "harmwatch-eng",
                           "route": "engineering"},
            "exp_annotations": {
                "summary": "many invalid events (stream all)",
                "description": "100% of the input (stream all) was invalid over 5m (threshold "
                               '5%). Stream "all" is every input, including messages too '
                               "broken to tell their stream. See "
                               "harmwatch_invalid_events_total by reason and the dead-letter "
                               "topic.",
                "runbook_url": "https://runbooks.example.com/harmwatch/pipeline#invalid-events",
                "dashboard_url": "http://localhost:3000/d/harmwatch-pipeline",
                "config_digest": SHIPPED_DIGEST,
            }}]},
    ],
}

# The rule as it was before issue #9: invalid over invalid plus valid, joined on the stream.
OLD_INVALID_EXPR = ("sum by (stream) (rate(harmwatch_invalid_events_total[5m])) / (sum by "
                    "(stream) (rate(harmwatch_invalid_events_total[5m])) + on (stream) "
                    "group_left sum by (stream) (rate(harmwatch_events_total[5m]))) > 0.05")


def _promtool_garbage_case(tmp_path: Path,
                           rules: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    rules_file = tmp_path / "pipeline-rules.yml"
    rules_file.write_text(dump_yaml(pipeline_only(rules)))
    test_file = tmp_path / "garbage-test.yml"
    test_file.write_text(dump_yaml({"rule_files": [str(rules_file)],
                                    "evaluation_interval": "15s",
                                    "tests": [GARBAGE_ONLY_CASE]}))
    return subprocess.run([binary("promtool"), "test", "rules", str(test_file)],
                          capture_output=True, text=True, timeout=120)


def test_only_garbage_trips_the_invalid_share_alert(tmp_path: Path) -> None:
    result = _promtool_garbage_case(tmp_path, yaml.safe_load(RULES.read_text()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_garbage_case_fails_on_the_old_rule(tmp_path: Path) -> None:
    rules = yaml.safe_load(RULES.read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"]
                if r["alert"] == "HarmwatchInvalidEventsHigh")
    rule["expr"] = OLD_INVALID_EXPR
    result = _promtool_garbage_case(tmp_path, rules)
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr
    assert "got:[]" in result.stdout + result.stderr


# --- a relative rule says what it judges (issue #10) ----------------------------------------

def _tiny_relative_config() -> Config:
    taxonomy = parse_taxonomy({"version": 1, "areas": {"youth_safety": {
        "name": "Youth safety", "owner": "youth-safety-policy",
        "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety"}}})
    return parse_thresholds({
        "version": 1,
        "defaults": {"minor_exposure": {"mode": "count_surprise", "window": "10m",
                                        "step": "1m", "baseline": "1h", "min_ratio": 2.0,
                                        "critical": 5, "for": "2m"}},
        "areas": {"other": {"minor_exposure": {"enabled": False}}},
    }, taxonomy)


EXPECTED_Q = ('{{ with query `harmwatch_signal_expected{policy_area="youth_safety",market="",'
              'signal="minor_exposure"}` }}{{ . | first | value | printf "%.4g" }}'
              '{{ else }}no baseline{{ end }}')
SCORE_Q = ('{{ with query `harmwatch_signal_score{policy_area="youth_safety",market="",'
           'signal="minor_exposure"}` }}{{ . | first | value | printf "%.4g" }}'
           '{{ else }}no score{{ end }}')
LEVEL_Q = ('{{ with query `harmwatch_signal_threshold{policy_area="youth_safety",'
           'signal="minor_exposure",severity="critical"}` }}'
           '{{ . | first | value | printf "%.4g" }}{{ else }}5{{ end }}')
EFFECTIVE_Q = ('{{ with query `harmwatch_signal_effective_threshold{policy_area="youth_safety",'
               'market="",signal="minor_exposure",severity="critical"}` }}'
               '{{ . | first | value | printf "%.4g" }}{{ else }}not reachable now{{ end }}')


def test_a_relative_rule_names_value_expected_threshold_in_unit_and_score() -> None:
    doc = yaml.safe_load(render_rules(_tiny_relative_config(), GRAFANA))
    (rule,) = next(g for g in doc["groups"] if g["name"] == "harmwatch-harm")["rules"]
    assert rule["alert"] == "YouthSafetyMinorExposureCritical"
    assert rule["annotations"] == {
        "summary": "Youth safety: minor_exposure far above the area's own baseline (surprise "
                   "at or above the critical level)",
        "description": "minor_exposure (violating decisions on content that reached or "
                       f"targeted minors) is {VALUE} over the last 10m event-time window "
                       f"against the area's expected {EXPECTED_Q} (decisions); the critical "
                       f"level is {EFFECTIVE_Q} in this window (surprise {LEVEL_Q}; this "
                       f"window's surprise is {SCORE_Q}: surprise: "
                       "-log10 of the chance of a count this high given the area's baseline, "
                       "so 5 means 1 in 100000). The breach lasted 2m of event time; the "
                       "alert resolves once the surprise falls below 4.",
        "value": VALUE,
        "expected": EXPECTED_Q,
        "effective_threshold": EFFECTIVE_Q,
        "score": SCORE_Q,
        "threshold": LEVEL_Q,
        "window": "10m",
        "runbook_url": "https://runbooks.example.com/harmwatch/youth_safety",
        "dashboard_url": "http://grafana.example:3000/d/harmwatch-youth-safety",
        "config_digest": "eec02b70ab43",
    }
