"""Rules for the emergent-threat alerts: emerging tags and advertiser concentration page the
area's policy owner; a drop pages engineering (a broken classifier or a stalled consumer).

Like the harm rules they page on the engine's own decision (an open episode,
``harmwatch_threat_alerts_open > 0``), so a backtest shows what would have paged. The
annotations name the tag from the bounded top-k series and the share from the share series;
who the advertiser is stays in the episode record.
"""

from __future__ import annotations

from typing import Any, Final

from alerts import conventions as c
from alerts.naming import (
    ENGINEERING_TEAM,
    PIPELINE_RUNBOOK,
    area_dashboard_uid,
    camel,
    dashboard_link,
)
from alerts.promql import sel
from signals.concentration import SIGNAL as CONCENTRATION
from signals.config import Config
from signals.emerging import SIGNAL as EMERGING
from signals.threat_types import ENGINEERING
from signals.threats import ROUTES

THREAT_GROUP: Final = "harmwatch-threats"
THREAT_GROUP_INTERVAL_S: Final = 15


def _open(area: str | None, signal: str) -> str:
    labels = {c.SIGNAL: signal} if area is None else {c.POLICY_AREA: area, c.SIGNAL: signal}
    return f"{sel(c.THREAT_ALERTS_OPEN, labels)} > 0"


def _first_label(query: str, label: str, missing: str) -> str:
    return (f'{{{{ with query "{query}" }}}}{{{{ with first . }}}}{{{{ .Labels.{label} }}}}'
            f'{{{{ end }}}}{{{{ else }}}}{missing}{{{{ end }}}}')


def _first_value(query: str, missing: str) -> str:
    return (f'{{{{ with query "{query}" }}}}{{{{ with first . }}}}{{{{ .Value | '
            f'humanizePercentage }}}}{{{{ end }}}}{{{{ else }}}}{missing}{{{{ end }}}}')


def threat_rules(config: Config, grafana: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for area in config.areas:
        info = config.taxonomy.info(area)
        top = f"topk(1, {c.EMERGING_TAG_COUNT}{{{c.POLICY_AREA}='{area}'}})"
        share = (f"topk(1, {c.ADVERTISER_TOP_SHARE}{{{c.POLICY_AREA}='{area}'}})")
        links = {"runbook_url": info.runbook_url,
                 "dashboard_url": dashboard_link(grafana, area_dashboard_uid(area))}
        labels = {c.SEVERITY: "page", c.POLICY_AREA: area, c.TEAM: info.owner}
        rules.append({
            "alert": f"HarmwatchEmergingTag{camel(area)}",
            "expr": _open(area, EMERGING),
            "labels": {**labels, c.SIGNAL: EMERGING},
            "annotations": {
                "summary": f"{info.name}: an emerging tag no threshold was written for",
                "description": (
                    "Tag " + _first_label(top, c.TAG, "(see the episode)") + " in "
                    f"{area} jumped far above its own baseline (or was never seen before). "
                    "The episode record's detail has its count, baseline and error bound."),
                "tag": _first_label(top, c.TAG, ""),
                **links,
            },
        })
        rules.append({
            "alert": f"HarmwatchAdvertiserConcentration{camel(area)}",
            "expr": _open(area, CONCENTRATION),
            "labels": {**labels, c.SIGNAL: CONCENTRATION},
            "annotations": {
                "summary": f"{info.name}: one advertiser behind a large share of the area",
                "description": (
                    "One advertiser accounts for " + _first_value(share, "a large share")
                    + " of " + _first_label(share, c.MEASURE, "the events") + f" in {area}. "
                    "The advertiser (hashed unless configured otherwise) is in the episode "
                    "record, never on a metric."),
                **links,
            },
        })
    for signal, route in ROUTES.items():
        if route != ENGINEERING:
            continue
        rules.append({
            "alert": f"Harmwatch{camel(signal)}",
            "expr": _open(None, signal),
            "labels": {c.SEVERITY: "page", c.SIGNAL: signal, c.TEAM: ENGINEERING_TEAM,
                       c.ROUTE: c.ENGINEERING_ROUTE},
            "annotations": {
                "summary": f"{signal.replace('_', ' ')} in {{{{ $labels.policy_area }}}}",
                "description": (
                    f"{signal.removeprefix('drop_')} in {{{{ $labels.policy_area }}}} fell far "
                    "below what the area usually has at this time of day (or, without a "
                    "previous day, its trailing mean): a broken classifier or a stalled "
                    "consumer is likelier than a change in harm. Routed to engineering. The "
                    f"ratio is {c.DROP_RATIO}; the episode's detail has the counts."),
                "runbook_url": f"{PIPELINE_RUNBOOK}#drops",
            },
        })
    for rule in rules:
        rule["annotations"][c.CONFIG_DIGEST_ANNOTATION] = config.digest
    return rules

