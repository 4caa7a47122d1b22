"""Prometheus alerting rules generated from the config (pure functions of ``Config``).

Harm alerts page off the engine's own decision, ``harmwatch_alert_state == 2``, so what pages
live is exactly what a backtest says (the engine already applied ``for``, min samples and the
clear level in event time). Prometheus only adds a short wall-clock debounce and holds the
alert through scrape gaps.

The same module writes the ``promtool test rules`` cases for every generated alert, so the
rules and their tests cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import yaml

from alerts import conventions as c
from alerts.naming import (
    ENGINEERING_TEAM,
    PIPELINE_RUNBOOK,
    PIPELINE_UID,
    ROUTING_SEVERITY,
    RULES_FILE,
    alert_name,
    area_dashboard_uid,
    dashboard_link,
)
from alerts.promql import (
    invalid_ratio,
    query_text,
    sel,
    state_selector,
    threshold_selector,
    up_selector,
    value_selector,
)
from signals.config import SEVERITIES, Config, Severity, SignalRule
from signals.definitions import SIGNALS
from signals.durations import format_duration
from signals.events import STREAMS

# Evaluate harm rules every second: the breach-to-page goal is 5 s end to end.
HARM_GROUP_INTERVAL_S: Final = 1
# Catching up on a backlog replays hours of event time in seconds and can flash episodes
# through "firing"; one second of wall clock keeps those from paging without costing much of
# the 5 s budget. The real debounce (`for` in event time) is the engine's.
HARM_FOR_S: Final = 1
# A restarted exporter starts at state 0; holding a firing alert this long keeps a restart
# from sending "resolved" and then a second page for the same incident.
HARM_KEEP_FIRING_S: Final = 30
# A scrape gap leaves the last state in force this long (``last_over_time``) instead of
# resolving the alert; HarmwatchExporterDown pages well before it runs out.
STALE_HOLD_S: Final = 300

PIPELINE_GROUP_INTERVAL_S: Final = 15
NO_EVENTS_S: Final = 600
INVALID_RATIO_TICKET: Final = 0.05
INVALID_RATIO_PAGE: Final = 0.25
CONSUMER_LAG_TICKET: Final = 5_000
CONSUMER_LAG_PAGE: Final = 50_000
EXPORTER_DOWN_FOR_S: Final = 60


# --- value formatting: the Go template pipe and its exact Python twin ---------------------


def _go_g4(v: float) -> str:
    # Go's %.4g and Python's .4g agree on finite floats (both print the shortest of %e/%f).
    return format(v, ".4g")


def go_humanize_duration(v: float) -> str:
    """Python port of Prometheus' ``humanizeDuration`` template function."""
    if math.isnan(v) or math.isinf(v):
        return _go_g4(v)
    if v == 0:
        return f"{_go_g4(v)}s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        whole = int(abs(v))
        secs, mins = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {secs}s"
        if hours:
            return f"{sign}{hours}h {mins}m {secs}s"
        if mins:
            return f"{sign}{mins}m {secs}s"
        return f"{sign}{_go_g4(abs(v))}s"
    return f"{_go_g4(v * 1000)}ms" if abs(v) >= 1e-3 else f"{_go_g4(v * 1e6)}us"


@dataclass(frozen=True)
class ValueFormat:
    pipe: str  # Go template functions applied to a float
    py: Callable[[float], str]


FORMATS: Final[dict[str, ValueFormat]] = {
    "count": ValueFormat('printf "%.4g"', _go_g4),
    "ratio": ValueFormat("humanizePercentage", lambda v: f"{_go_g4(v * 100)}%"),
    "baseline": ValueFormat('printf "%.4gx"', lambda v: f"{_go_g4(v)}x"),
    "quantile": ValueFormat("humanizeDuration", go_humanize_duration),
}


def value_format(signal: str) -> ValueFormat:
    return FORMATS[SIGNALS[signal].kind]


# --- harm alerts --------------------------------------------------------------------------


def harm_expr(area: str, signal: str, severity: Severity) -> str:
    selector = state_selector(area, signal, severity)
    return (f"max by ({c.POLICY_AREA}, {c.SIGNAL}) "
            f"(last_over_time({selector}[{format_duration(STALE_HOLD_S)}])) == {c.STATE_FIRING}")


def _comparison(rule: SignalRule) -> tuple[str, str]:
    return ("at or above", "below") if rule.direction == "above" else ("at or below", "above")


def harm_rule(config: Config, area: str, signal: str, severity: Severity,
              grafana: str) -> dict[str, Any]:
    rule = config.rules[(area, signal)]
    level, clear = rule.level(severity), rule.clear_level(severity)
    assert level is not None and clear is not None
    info = config.taxonomy.info(area)
    definition = SIGNALS[signal]
    fmt = value_format(signal)
    value = query_text(value_selector(area, signal), fmt.pipe, "no value")
    threshold = query_text(threshold_selector(area, signal, severity), fmt.pipe, fmt.py(level))
    window = format_duration(rule.window_s)
    trigger, resolve = _comparison(rule)
    word = "critical" if severity == "critical" else "warning"
    samples = f", at least {rule.min_samples} samples per window" if rule.min_samples else ""
    return {
        "alert": alert_name(area, signal, severity),
        "expr": harm_expr(area, signal, severity),
        "for": format_duration(HARM_FOR_S),
        "keep_firing_for": format_duration(HARM_KEEP_FIRING_S),
        "labels": {
            c.SEVERITY: ROUTING_SEVERITY[severity],
            c.POLICY_AREA: area,
            c.SIGNAL: signal,
            c.TEAM: info.owner,
        },
        "annotations": {
            "summary": f"{info.name}: {signal} {trigger} the {word} threshold",
            "description": (
                f"{signal} ({definition.description}) is {value} over the last {window} "
                f"event-time window; {word} threshold {threshold} ({definition.unit}). The "
                f"breach lasted {format_duration(rule.for_s)} of event time{samples}; the alert "
                f"resolves once the value falls {resolve} {fmt.py(clear)}."),
            "value": value,
            "threshold": threshold,
            "window": window,
            "runbook_url": info.runbook_url,
            "dashboard_url": dashboard_link(grafana, area_dashboard_uid(area)),
        },
    }


def harm_alerts(config: Config) -> list[tuple[str, str, Severity]]:
    """Every (area, signal, severity) that gets an alert, in a stable order."""
    out: list[tuple[str, str, Severity]] = []
    for area in config.areas:
        for signal in config.signals:
            rule = config.rule(area, signal)
            if rule is None:
                continue
            out.extend((area, signal, sev) for sev in SEVERITIES if rule.level(sev) is not None)
    return out


# --- pipeline health ----------------------------------------------------------------------


def _eng_labels(severity: str) -> dict[str, str]:
    return {c.SEVERITY: severity, c.TEAM: ENGINEERING_TEAM, c.ROUTE: c.ENGINEERING_ROUTE}


def _eng_annotations(grafana: str, anchor: str, summary: str,
                     description: str) -> dict[str, str]:
    return {
        "summary": summary,
        "description": description,
        "runbook_url": f"{PIPELINE_RUNBOOK}#{anchor}",
        "dashboard_url": dashboard_link(grafana, PIPELINE_UID),
    }


def pipeline_rules(grafana: str) -> list[dict[str, Any]]:
    no_events = format_duration(NO_EVENTS_S)
    last = f"max by ({c.STREAM}) ({c.LAST_EVENT_RECEIVED})"
    absent_streams = " or ".join(f"absent({sel(c.LAST_EVENT_RECEIVED, {c.STREAM: s})})"
                                 for s in STREAMS)
    lag = f"sum by ({c.TOPIC}) ({c.CONSUMER_LAG})"
    up = up_selector()
    ratio_value = "{{ $value | humanizePercentage }}"
    return [
        {
            "alert": "HarmwatchExporterDown",
            "expr": f"{up} == 0 or absent({up})",
            "for": format_duration(EXPORTER_DOWN_FOR_S),
            "labels": _eng_labels("page"),
            "annotations": _eng_annotations(
                grafana, "exporter-down", "harmwatch metrics cannot be scraped",
                "Prometheus has not scraped harmwatch ({{ $labels.instance }}) for "
                f"{format_duration(EXPORTER_DOWN_FOR_S)}. Harm alerts hold their last state for "
                f"{format_duration(STALE_HOLD_S)} and then go quiet: nobody is watching the "
                "policy signals until this is fixed."),
        },
        {
            "alert": "HarmwatchNoEvents",
            "expr": (f"time() - {last} > {NO_EVENTS_S} or ({absent_streams}) "
                     f"and on () (max({up}) == 1)"),
            "for": "1m",
            "labels": _eng_labels("page"),
            "annotations": _eng_annotations(
                grafana, "no-events", "no {{ $labels.stream }} events reach harmwatch",
                f"No valid {{{{ $labels.stream }}}} event arrived for more than {no_events}; "
                "signals that read this stream are blind (their alerts cannot fire)."),
        },
        {
            "alert": "HarmwatchInvalidEventsHigh",
            "expr": f"{invalid_ratio()} > {INVALID_RATIO_TICKET}",
            "for": "5m",
            "labels": _eng_labels("ticket"),
            "annotations": _eng_annotations(
                grafana, "invalid-events", "many invalid {{ $labels.stream }} events",
                f"{ratio_value} of {{{{ $labels.stream }}}} events were invalid over 5m "
                f"(threshold {_go_g4(INVALID_RATIO_TICKET * 100)}%); see "
                f"{c.INVALID_EVENTS_TOTAL} by {c.REASON} and the dead-letter topic."),
        },
        {
            "alert": "HarmwatchInvalidEventsCritical",
            "expr": f"{invalid_ratio()} > {INVALID_RATIO_PAGE}",
            "for": "5m",
            "labels": _eng_labels("page"),
            "annotations": _eng_annotations(
                grafana, "invalid-events", "most {{ $labels.stream }} events are invalid",
                f"{ratio_value} of {{{{ $labels.stream }}}} events were invalid over 5m "
                f"(threshold {_go_g4(INVALID_RATIO_PAGE * 100)}%): the signals undercount; "
                "a producer or the contract changed."),
        },
        {
            "alert": "HarmwatchConsumerLagHigh",
            "expr": f"{lag} > {CONSUMER_LAG_TICKET}",
            "for": "5m",
            "labels": _eng_labels("ticket"),
            "annotations": _eng_annotations(
                grafana, "consumer-lag", "harmwatch lags on {{ $labels.topic }}",
                "{{ $value | printf \"%.0f\" }} messages behind on {{ $labels.topic }} "
                f"(threshold {CONSUMER_LAG_TICKET}); alerts fire late by that backlog."),
        },
        {
            "alert": "HarmwatchConsumerLagCritical",
            "expr": f"{lag} > {CONSUMER_LAG_PAGE}",
            "for": "10m",
            "labels": _eng_labels("page"),
            "annotations": _eng_annotations(
                grafana, "consumer-lag", "harmwatch far behind on {{ $labels.topic }}",
                "{{ $value | printf \"%.0f\" }} messages behind on {{ $labels.topic }} "
                f"(threshold {CONSUMER_LAG_PAGE}); harm alerts are delayed by minutes."),
        },
    ]


# --- the document -------------------------------------------------------------------------


def rules_document(config: Config, grafana: str) -> dict[str, Any]:
    harm = [harm_rule(config, a, s, sev, grafana) for a, s, sev in harm_alerts(config)]
    return {"groups": [
        {"name": "harmwatch-harm", "interval": f"{HARM_GROUP_INTERVAL_S}s", "rules": harm},
        {"name": "harmwatch-pipeline", "interval": f"{PIPELINE_GROUP_INTERVAL_S}s",
         "rules": pipeline_rules(grafana)},
    ]}


def header(config: Config, command: str) -> str:
    return (f"# DO NOT EDIT: generated by `{command}`\n"
            f"# from the thresholds config (digest {config.digest}). Edit config/*.yaml and "
            "regenerate;\n"
            "# scripts/check-generated.sh (run by CI) fails when this file is stale.\n")


def dump_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, width=10_000, allow_unicode=True)


def render_rules(config: Config, grafana: str) -> str:
    command = f"harmwatch rules generate --output {RULES_FILE}"
    return header(config, command) + dump_yaml(rules_document(config, grafana))


# --- promtool unit tests -----------------------------------------------------------------

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
    value_tpl, threshold_tpl = annotations["value"], annotations["threshold"]
    return {key: text.replace(value_tpl, fmt.py(value)).replace(threshold_tpl, fmt.py(level))
            for key, text in annotations.items()}


def _harm_series(config: Config, values: str, span: int) -> list[dict[str, str]]:
    series = []
    for area, signal in dict.fromkeys((a, s) for a, s, _ in harm_alerts(config)):
        value = _test_value(config.rules[(area, signal)])
        series.append({"series": _series(c.SIGNAL_VALUE,
                                         {**TEST_INSTANCE, c.POLICY_AREA: area,
                                          c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal}),
                       "values": f"{value!r}x{span}"})
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


def _eng_alert(grafana: str, name: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    rule = next(r for r in pipeline_rules(grafana) if r["alert"] == name)
    annotations = {}
    for key, text in rule["annotations"].items():
        for label, label_value in labels.items():
            text = text.replace(f"{{{{ $labels.{label} }}}}", label_value)
        text = text.replace("{{ $value | humanizePercentage }}", value)
        text = text.replace('{{ $value | printf "%.0f" }}', value)
        annotations[key] = text
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}


def pipeline_test_cases(grafana: str) -> list[dict[str, Any]]:
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
             "exp_alerts": [_eng_alert(grafana, "HarmwatchExporterDown", down)]},
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
         "exp_alerts": [_eng_alert(grafana, "HarmwatchNoEvents", {c.STREAM: "decision"})]},
    ]})

    # 100 valid and 10 (ticket) or 50 (page) invalid report events per 15 s: the ratio is
    # above its threshold from the first rate at 15s, so firing at 5m15s.
    for name, invalid_per_step, ratio in (("HarmwatchInvalidEventsHigh", 10, "9.091%"),
                                          ("HarmwatchInvalidEventsCritical", 50, "33.33%")):
        cases.append({"interval": "15s", "input_series": [
            {"series": _series(c.EVENTS_TOTAL,
                               {**base, c.STREAM: "report", c.POLICY_AREA: "youth_safety",
                                c.OUTCOME: c.OUTCOME_COUNTED}), "values": "0+100x30"},
            {"series": _series(c.INVALID_EVENTS_TOTAL,
                               {**base, c.STREAM: "report", c.REASON: "schema"}),
             "values": f"0+{invalid_per_step}x30"},
        ], "alert_rule_test": [
            {"eval_time": "5m", "alertname": name, "exp_alerts": []},
            {"eval_time": "5m15s", "alertname": name,
             "exp_alerts": [_eng_alert(grafana, name, {c.STREAM: "report"}, ratio)]},
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
             "exp_alerts": [_eng_alert(grafana, name, {c.TOPIC: "harmwatch.reports"},
                                       str(lag))]},
        ]})
    return cases


def pipeline_only(rules: dict[str, Any]) -> dict[str, Any]:
    """The pipeline group of a rules document: its tests span minutes, and evaluating the
    hundreds of 1 s harm rules alongside would make promtool take minutes too."""
    return {"groups": [g for g in rules["groups"] if g["name"] == "harmwatch-pipeline"]}


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
                               "tests": pipeline_test_cases(grafana)},
    }
