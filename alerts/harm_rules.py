"""Harm alerts: one per policy area, signal and set level, paging off the engine's state.

They page off ``harmwatch_alert_state == 2``, the engine's own decision, so what pages live
is exactly what a backtest says (the engine already applied ``for``, min samples and the
clear level in event time). Prometheus only adds a short wall-clock debounce and holds the
alert through scrape gaps.
"""

from __future__ import annotations

from typing import Any, Final

from alerts import conventions as c
from alerts.formats import SCORE_FORMAT, expected_format, value_format
from alerts.naming import ROUTING_SEVERITY, alert_name, area_dashboard_uid, dashboard_link
from alerts.promql import (
    effective_selector,
    expected_selector,
    query_text,
    score_selector,
    state_selector,
    threshold_selector,
    value_selector,
)
from signals.config import SEVERITIES, Config, Severity, SignalRule
from signals.definitions import SIGNALS
from signals.durations import format_duration

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


def harm_expr(area: str, signal: str, severity: Severity) -> str:
    selector = state_selector(area, signal, severity)
    return (f"max by ({c.POLICY_AREA}, {c.SIGNAL}) "
            f"(last_over_time({selector}[{format_duration(STALE_HOLD_S)}])) == {c.STATE_FIRING}")


# What a relative rule's score means, for the alert text (see signals/judges.py).
SCORE_MEANING: Final = {
    "count_surprise": "surprise: -log10 of the chance of a count this high given the area's "
                      "baseline, so 5 means 1 in 100000",
    "rate_surprise": "surprise: -log10 of the chance of this many of n given the area's "
                     "baseline rate, so 5 means 1 in 100000",
    "baseline_ratio": "ratio: the value over the area's usual (median) value",
}


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
    annotations = _relative_annotations(area, signal, severity, rule, value, samples) \
        if rule.relative else {
            "summary": f"{info.name}: {signal} {trigger} the {word} threshold",
            "description": (
                f"{signal} ({definition.description}) is {value} over the last {window} "
                f"event-time window; {word} threshold {threshold} ({definition.unit}). The "
                f"breach lasted {format_duration(rule.for_s)} of event time{samples}; the alert "
                f"resolves once the value falls {resolve} {fmt.py(clear)}."),
            "value": value,
            "threshold": threshold,
        }
    if rule.relative:
        annotations["summary"] = f"{info.name}: {annotations['summary']}"
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
            **annotations,
            "window": window,
            "runbook_url": info.runbook_url,
            "dashboard_url": dashboard_link(grafana, area_dashboard_uid(area)),
            c.CONFIG_DIGEST_ANNOTATION: config.digest,
        },
    }


def _relative_annotations(area: str, signal: str, severity: Severity, rule: SignalRule,
                          value: str, samples: str) -> dict[str, str]:
    """A relative rule pages on a score against the area's own baseline: say so, with the
    raw value and the expected one in the signal's unit and the score next to its level."""
    level, clear = rule.level(severity), rule.clear_level(severity)
    assert level is not None and clear is not None
    definition = SIGNALS[signal]
    measure = SCORE_MEANING[rule.mode].split(":")[0]
    word = "critical" if severity == "critical" else "warning"
    sfmt, efmt = SCORE_FORMAT, expected_format(signal)
    expected = query_text(expected_selector(area, signal), efmt.pipe, "no baseline")
    # The level in the signal's unit: what a reader compares the value with.
    effective = query_text(effective_selector(area, signal, severity), value_format(signal).pipe,
                           "not reachable now")
    score = query_text(score_selector(area, signal), sfmt.pipe, "no score")
    threshold = query_text(threshold_selector(area, signal, severity), sfmt.pipe,
                           sfmt.py(level))
    return {
        "summary": f"{signal} far above the area's own baseline ({measure} at or above the "
                   f"{word} level)",
        "description": (
            f"{signal} ({definition.description}) is {value} over the last "
            f"{format_duration(rule.window_s)} event-time window against the area's expected "
            f"{expected} ({definition.unit}); the {word} level is {effective} in this window "
            f"({measure} {threshold}; this window's {measure} is {score}: "
            f"{SCORE_MEANING[rule.mode]}). The breach lasted "
            f"{format_duration(rule.for_s)} of event time{samples}; the alert resolves once the "
            f"{measure} falls below {sfmt.py(clear)}."),
        "value": value,
        "expected": expected,
        "effective_threshold": effective,
        "score": score,
        "threshold": threshold,
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

