"""Pipeline-health alerts, routed to engineering: the exporter, the input, the consumer."""

from __future__ import annotations

from typing import Any, Final

from alerts import conventions as c
from alerts.formats import go_g4
from alerts.harm_rules import STALE_HOLD_S
from alerts.naming import ENGINEERING_TEAM, PIPELINE_RUNBOOK, PIPELINE_UID, dashboard_link
from alerts.promql import invalid_ratio, sel, up_selector
from signals.durations import format_duration
from signals.events import STREAMS

PIPELINE_GROUP_INTERVAL_S: Final = 15
NO_EVENTS_S: Final = 600
INVALID_RATIO_TICKET: Final = 0.05
INVALID_RATIO_PAGE: Final = 0.25
CONSUMER_LAG_TICKET: Final = 5_000
CONSUMER_LAG_PAGE: Final = 50_000
EXPORTER_DOWN_FOR_S: Final = 60


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


def pipeline_rules(grafana: str, config_digest: str) -> list[dict[str, Any]]:
    """The pipeline alerts; each names ``config_digest``, the config the file came from."""
    rules = _pipeline_rules(grafana)
    for rule in rules:
        rule["annotations"][c.CONFIG_DIGEST_ANNOTATION] = config_digest
    return rules


def _pipeline_rules(grafana: str) -> list[dict[str, Any]]:
    no_events = format_duration(NO_EVENTS_S)
    last = f"max by ({c.STREAM}) ({c.LAST_EVENT_RECEIVED})"
    absent_streams = " or ".join(f"absent({sel(c.LAST_EVENT_RECEIVED, {c.STREAM: s})})"
                                 for s in STREAMS)
    lag = f"sum by ({c.TOPIC}) ({c.CONSUMER_LAG})"
    up = up_selector()
    ratio_value = "{{ $value | humanizePercentage }}"
    scope = (f'Stream "{c.ALL_STREAMS}" is every input, including messages too broken to tell '
             'their stream.')
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
            "expr": f"({invalid_ratio()}) > {INVALID_RATIO_TICKET}",
            "for": "5m",
            "labels": _eng_labels("ticket"),
            "annotations": _eng_annotations(
                grafana, "invalid-events", "many invalid events (stream {{ $labels.stream }})",
                f"{ratio_value} of the input (stream {{{{ $labels.stream }}}}) was invalid over "
                f"5m (threshold {go_g4(INVALID_RATIO_TICKET * 100)}%). {scope} See "
                f"{c.INVALID_EVENTS_TOTAL} by {c.REASON} and the dead-letter topic."),
        },
        {
            "alert": "HarmwatchInvalidEventsCritical",
            "expr": f"({invalid_ratio()}) > {INVALID_RATIO_PAGE}",
            "for": "5m",
            "labels": _eng_labels("page"),
            "annotations": _eng_annotations(
                grafana, "invalid-events", "most input is invalid (stream {{ $labels.stream }})",
                f"{ratio_value} of the input (stream {{{{ $labels.stream }}}}) was invalid over "
                f"5m (threshold {go_g4(INVALID_RATIO_PAGE * 100)}%): the signals undercount; "
                f"a producer or the contract changed. {scope}"),
        },
        {
            # Truncated messages are gone for good: the signals undercount for that stretch,
            # so engineering must look even though nothing is pending any more.
            "alert": "HarmwatchLogTruncated",
            "expr": f"sum by ({c.TOPIC}) (increase({c.LOG_TRUNCATED_TOTAL}[15m])) > 0",
            "labels": _eng_labels("ticket"),
            "annotations": _eng_annotations(
                grafana, "log-truncated", "messages on {{ $labels.topic }} were lost unread",
                "{{ $value | printf \"%.0f\" }} messages on {{ $labels.topic }} were deleted or "
                "skipped before harmwatch read them (retention shorter than an outage, a "
                "re-created topic, a broker that lost its tail): the signals undercount."),
        },
        {
            # Nothing is lost yet, but the worker runs on from an older snapshot: a restart
            # re-reads the log from there, and the state keeps growing until partitions are
            # added.
            "alert": "HarmwatchSnapshotRefused",
            "expr": (f"sum by ({c.TABLE}) (increase({c.SNAPSHOTS_REFUSED_TOTAL}[15m])) > 0"),
            "labels": _eng_labels("ticket"),
            "annotations": _eng_annotations(
                grafana, "snapshot-refused", "harmwatch state too large for a snapshot "
                "({{ $labels.table }})",
                "{{ $value | printf \"%.0f\" }} snapshots of the {{ $labels.table }} table "
                "were over the Kafka record limit and not written; the worker runs on from "
                "its last snapshot that fitted, so a restart re-reads more of the log. The "
                "worker log names the largest part: add partitions."),
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

