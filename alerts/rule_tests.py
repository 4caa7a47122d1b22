"""``promtool test rules`` cases for every generated alert.

Written by the same code that writes the rules, so every alert has a case; what a case
expects is rendered by :mod:`alerts.formats` (the Python twin of the Go template pipes).
The hand-written expectations for a small config live in tests/alerting.
"""

from __future__ import annotations

from typing import Any, Final

from alerts import conventions as c
from alerts.formats import SCORE_FORMAT, expected_format, value_format
from alerts.harm_rules import HARM_FOR_S, HARM_KEEP_FIRING_S, harm_alerts, harm_rule
from alerts.naming import alert_name
from alerts.pipeline_rules import pipeline_rules
from signals.config import Config, Severity, SignalRule
from signals.durations import format_duration

TEST_INSTANCE: Final = {c.JOB: c.SCRAPE_JOB, c.INSTANCE: "127.0.0.1:9464"}


def _series(metric: str, labels: dict[str, str]) -> str:
    # market="" in series notation means "no market label", as Prometheus stores it.
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items() if v != "")
    return f"{metric}{{{inner}}}"


def _test_value(rule: SignalRule) -> float:
    """A value past every set level, so the annotations read like a real breach."""
    levels = [lv for lv in (rule.warn, rule.critical) if lv is not None]
    if rule.direction == "above":
        return max(levels) * 1.25
    return min(levels) * 0.75


def expected_harm_annotations(config: Config, area: str, signal: str, severity: Severity,
                              grafana: str, value: float) -> dict[str, str]:
    """The annotations Prometheus renders when the value and threshold series exist."""
    rule = config.rules[(area, signal)]
    level = rule.level(severity)
    assert level is not None
    fmt = value_format(signal)
    annotations: dict[str, str] = harm_rule(config, area, signal, severity, grafana)["annotations"]
    shown = {annotations["value"]: fmt.py(value)}
    if rule.relative:
        shown[annotations["threshold"]] = SCORE_FORMAT.py(level)
        shown[annotations["score"]] = SCORE_FORMAT.py(_test_score(rule))
        shown[annotations["expected"]] = expected_format(signal).py(_test_expected(rule))
        shown[annotations["effective_threshold"]] = fmt.py(_test_effective(rule, severity))
    else:
        shown[annotations["threshold"]] = fmt.py(level)
    out = {}
    for key, text in annotations.items():
        for template, rendered in shown.items():
            text = text.replace(template, rendered)
        out[key] = text
    return out


def _test_score(rule: SignalRule) -> float:
    """A relative rule's score past every level (its value is then a count far above)."""
    return _test_value(rule) + 0.5


def _test_expected(rule: SignalRule) -> float:
    return _test_value(rule) / 4


def _test_effective(rule: SignalRule, severity: Severity) -> float:
    """The level in the signal's unit: between the expected value and the value (warn lower)."""
    return _test_expected(rule) * (2 if severity == "warn" else 3)


def _harm_series(config: Config, values: str, span: int) -> list[dict[str, str]]:
    series = []
    for area, signal in dict.fromkeys((a, s) for a, s, _ in harm_alerts(config)):
        value = _test_value(config.rules[(area, signal)])
        series.append({"series": _series(c.SIGNAL_VALUE,
                                         {**TEST_INSTANCE, c.POLICY_AREA: area,
                                          c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal}),
                       "values": f"{value!r}x{span}"})
        rule = config.rules[(area, signal)]
        if rule.relative:
            labels = {**TEST_INSTANCE, c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA,
                      c.SIGNAL: signal}
            series.append({"series": _series(c.SIGNAL_SCORE, labels),
                           "values": f"{_test_score(rule)!r}x{span}"})
            series.append({"series": _series(c.SIGNAL_EXPECTED, labels),
                           "values": f"{_test_expected(rule)!r}x{span}"})
    for area, signal, severity in harm_alerts(config):
        level = config.rules[(area, signal)].level(severity)
        series.append({"series": _series(c.ALERT_STATE,
                                         {**TEST_INSTANCE, c.POLICY_AREA: area,
                                          c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal,
                                          c.SEVERITY: severity}),
                       "values": values})
        series.append({"series": _series(c.SIGNAL_THRESHOLD,
                                         {**TEST_INSTANCE, c.POLICY_AREA: area,
                                          c.SIGNAL: signal, c.SEVERITY: severity}),
                       "values": f"{level!r}x{span}"})
        rule = config.rules[(area, signal)]
        if rule.relative:
            series.append({"series": _series(c.SIGNAL_EFFECTIVE_THRESHOLD,
                                             {**TEST_INSTANCE, c.POLICY_AREA: area,
                                              c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal,
                                              c.SEVERITY: severity}),
                           "values": f"{_test_effective(rule, severity)!r}x{span}"})
    return series


def _firing(config: Config, area: str, signal: str, severity: Severity,
            grafana: str) -> list[dict[str, Any]]:
    value = _test_value(config.rules[(area, signal)])
    return [{
        "exp_labels": dict(harm_rule(config, area, signal, severity, grafana)["labels"]),
        "exp_annotations": expected_harm_annotations(config, area, signal, severity, grafana,
                                                     value),
    }]


def harm_test_case(config: Config, grafana: str) -> dict[str, Any]:
    """Every harm alert at once (one case keeps promtool fast): the engine's state goes
    0 -> 1 (pending) -> 2 (firing) at t=2s; each alert is pending at 2s, just before its
    wall-clock ``for``, and firing with exact labels and annotations at 2s + ``for``."""
    fires_at = 2 + HARM_FOR_S
    checks: list[dict[str, Any]] = []
    for area, signal, severity in harm_alerts(config):
        name = alert_name(area, signal, severity)
        checks.append({"eval_time": "1s", "alertname": name, "exp_alerts": []})
        checks.append({"eval_time": f"{fires_at - 1}s", "alertname": name, "exp_alerts": []})
        checks.append({"eval_time": f"{fires_at}s", "alertname": name,
                       "exp_alerts": _firing(config, area, signal, severity, grafana)})
    return {"interval": "1s", "input_series": _harm_series(config, "0 1 2x4", 6),
            "alert_rule_test": checks}


def hold_test_case(config: Config, grafana: str) -> dict[str, Any]:
    """Scrape gaps and exporter restarts must not resolve a firing harm alert.

    Firing from 3s; the state series goes stale at 11s (a failed scrape), nothing is scraped
    for 20s, then the exporter is back with state 0 (a restart). Still firing during the gap
    and within ``keep_firing_for`` of the 0, resolved after it.
    """
    back = 32  # 2s + 9 samples of 2, the stale marker at 11s, 20 missing samples
    checks: list[dict[str, Any]] = []
    for area, signal, severity in harm_alerts(config):
        name = alert_name(area, signal, severity)
        firing = _firing(config, area, signal, severity, grafana)
        checks.append({"eval_time": "25s", "alertname": name, "exp_alerts": firing})
        checks.append({"eval_time": f"{back + HARM_KEEP_FIRING_S - 1}s", "alertname": name,
                       "exp_alerts": firing})
        checks.append({"eval_time": f"{back + HARM_KEEP_FIRING_S + 1}s", "alertname": name,
                       "exp_alerts": []})
    return {"interval": "1s", "input_series": _harm_series(config, "0 1 2x8 stale _x20 0x40",
                                                           80),
            "alert_rule_test": checks}


def _eng_alert(grafana: str, digest: str, name: str, labels: dict[str, str],
               value: str = "") -> dict[str, Any]:
    rule = next(r for r in pipeline_rules(grafana, digest) if r["alert"] == name)
    annotations = {}
    for key, text in rule["annotations"].items():
        for label, label_value in labels.items():
            text = text.replace(f"{{{{ $labels.{label} }}}}", label_value)
        text = text.replace("{{ $value | humanizePercentage }}", value)
        text = text.replace('{{ $value | printf "%.0f" }}', value)
        annotations[key] = text
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}


def _valid_series(stream: str, values: str) -> dict[str, str]:
    return {"series": _series(c.EVENTS_TOTAL, {**TEST_INSTANCE, c.STREAM: stream,
                                               c.POLICY_AREA: "youth_safety",
                                               c.OUTCOME: c.OUTCOME_COUNTED}),
            "values": values}


def pipeline_test_cases(grafana: str, digest: str) -> list[dict[str, Any]]:
    """Each pipeline alert silent at the evaluation before its ``for`` ends, firing at it."""
    base = TEST_INSTANCE
    cases: list[dict[str, Any]] = []

    # Scrapes fail from 75s; pending then, firing 1m later at 2m15s.
    down = dict(base)
    cases.append({"interval": "15s", "input_series": [
        {"series": _series(c.UP, base), "values": "1x4 0x20"}],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "HarmwatchExporterDown", "exp_alerts": []},
            {"eval_time": "2m15s", "alertname": "HarmwatchExporterDown",
             "exp_alerts": [_eng_alert(grafana, digest, "HarmwatchExporterDown", down)]},
        ]})

    # The decision stream's last arrival stays at t=0 while the others keep arriving: its age
    # passes 10m at 10m15s, the alert is pending then and fires 1m later.
    ts = [{"series": _series(c.LAST_EVENT_RECEIVED,
                             {**base, c.STREAM: "decision"}), "values": "0x60"}]
    for stream in ("appeal", "report"):
        ts.append({"series": _series(c.LAST_EVENT_RECEIVED,
                                     {**base, c.STREAM: stream}), "values": "0+15x60"})
    ts.append({"series": _series(c.UP, base), "values": "1x60"})
    cases.append({"interval": "15s", "input_series": ts, "alert_rule_test": [
        {"eval_time": "11m", "alertname": "HarmwatchNoEvents", "exp_alerts": []},
        {"eval_time": "11m15s", "alertname": "HarmwatchNoEvents",
         "exp_alerts": [_eng_alert(grafana, digest, "HarmwatchNoEvents", {c.STREAM: "decision"})]},
    ]})

    # Per stream: 100 valid report and 100 valid decision events per 15 s, and 10 (ticket) or
    # 50 (page) invalid report events: the report share is past its threshold from the first
    # rate at 15s, so firing at 5m15s; the share of all input (10/210, 50/250) stays below.
    for name, invalid_per_step, ratio in (("HarmwatchInvalidEventsHigh", 10, "9.091%"),
                                          ("HarmwatchInvalidEventsCritical", 50, "33.33%")):
        cases.append({"interval": "15s", "input_series": [
            *(_valid_series(stream, "0+100x30") for stream in ("report", "decision")),
            {"series": _series(c.INVALID_EVENTS_TOTAL,
                               {**base, c.STREAM: "report", c.REASON: "schema"}),
             "values": f"0+{invalid_per_step}x30"},
        ], "alert_rule_test": [
            {"eval_time": "5m", "alertname": name, "exp_alerts": []},
            {"eval_time": "5m15s", "alertname": name,
             "exp_alerts": [_eng_alert(grafana, digest, name, {c.STREAM: "report"}, ratio)]},
        ]})

    # Only garbage: messages that are not JSON are counted under stream="unknown" and no
    # valid series exists at all; the share of all input is 100%.
    garbage = {"series": _series(c.INVALID_EVENTS_TOTAL,
                                 {**base, c.STREAM: "unknown", c.REASON: "not_json"}),
               "values": "0+20x30"}
    for name in ("HarmwatchInvalidEventsHigh", "HarmwatchInvalidEventsCritical"):
        cases.append({"interval": "15s", "input_series": [garbage], "alert_rule_test": [
            {"eval_time": "5m", "alertname": name, "exp_alerts": []},
            {"eval_time": "5m15s", "alertname": name,
             "exp_alerts": [_eng_alert(grafana, digest, name, {c.STREAM: c.ALL_STREAMS}, "100%")]},
        ]})

    # Unparsable lines among valid ones (the embedded run counts every invalid line under
    # "unknown"): 30 of 130 is past the ticket's 5% but not the page's 25%.
    mixed = [_valid_series("report", "0+100x30"), {**garbage, "values": "0+30x30"}]
    cases.append({"interval": "15s", "input_series": mixed, "alert_rule_test": [
        {"eval_time": "5m15s", "alertname": "HarmwatchInvalidEventsHigh",
         "exp_alerts": [_eng_alert(grafana, digest, "HarmwatchInvalidEventsHigh",
                                   {c.STREAM: c.ALL_STREAMS}, "23.08%")]},
        {"eval_time": "5m15s", "alertname": "HarmwatchInvalidEventsCritical", "exp_alerts": []},
    ]})

    # Seven messages of one partition lost at 75s: no `for`, so firing at that evaluation;
    # the counter starts at 0, so increase() has nothing to extrapolate and is exactly 7.
    cases.append({"interval": "15s", "input_series": [
        {"series": _series(c.LOG_TRUNCATED_TOTAL,
                           {**base, c.TOPIC: "harmwatch.appeals", c.PARTITION: "2"}),
         "values": "0x4 7x10"}], "alert_rule_test": [
        {"eval_time": "1m", "alertname": "HarmwatchLogTruncated", "exp_alerts": []},
        {"eval_time": "1m15s", "alertname": "HarmwatchLogTruncated",
         "exp_alerts": [_eng_alert(grafana, digest, "HarmwatchLogTruncated",
                                   {c.TOPIC: "harmwatch.appeals"}, "7")]},
    ]})

    # Three refused merge-state snapshots at 75s, as above: firing at that evaluation.
    cases.append({"interval": "15s", "input_series": [
        {"series": _series(c.SNAPSHOTS_REFUSED_TOTAL, {**base, c.TABLE: "merge-state"}),
         "values": "0x4 3x10"}], "alert_rule_test": [
        {"eval_time": "1m", "alertname": "HarmwatchSnapshotRefused", "exp_alerts": []},
        {"eval_time": "1m15s", "alertname": "HarmwatchSnapshotRefused",
         "exp_alerts": [_eng_alert(grafana, digest, "HarmwatchSnapshotRefused",
                                   {c.TABLE: "merge-state"}, "3")]},
    ]})

    # Two partitions of one topic, summed; pending from t=0, so firing exactly at `for`.
    for name, lag, for_s in (("HarmwatchConsumerLagHigh", 10_000, 300),
                             ("HarmwatchConsumerLagCritical", 60_000, 600)):
        cases.append({"interval": "15s", "input_series": [
            {"series": _series(c.CONSUMER_LAG,
                               {**base, c.TOPIC: "harmwatch.reports", c.PARTITION: p}),
             "values": f"{lag // 2}x45"} for p in ("0", "1")
        ], "alert_rule_test": [
            {"eval_time": format_duration(for_s - 15), "alertname": name, "exp_alerts": []},
            {"eval_time": format_duration(for_s), "alertname": name,
             "exp_alerts": [_eng_alert(grafana, digest, name, {c.TOPIC: "harmwatch.reports"},
                                       str(lag))]},
        ]})
    return cases



def rule_tests(config: Config, grafana: str, rules_file: str,
               pipeline_rules_file: str) -> dict[str, dict[str, Any]]:
    """promtool test files by name: harm alerts against the full rules file, pipeline alerts
    against :func:`pipeline_only` of it."""
    return {
        "harm-tests.yml": {"rule_files": [rules_file], "evaluation_interval": "1s",
                           "tests": [harm_test_case(config, grafana),
                                     hold_test_case(config, grafana)]},
        "pipeline-tests.yml": {"rule_files": [pipeline_rules_file],
                               "evaluation_interval": "15s",
                               "tests": pipeline_test_cases(grafana, config.digest)},
    }

