"""Names shared by the generated rules, dashboards and Alertmanager config.

Alert names and dashboard uids are part of what people bookmark and what Alertmanager
silences match on, so they are derived deterministically from config ids and never from
display names (which analysts may reword).
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

from signals.config import Severity

DEFAULT_GRAFANA_URL: Final = "http://localhost:3000"
GRAFANA_URL_ENV: Final = "HARMWATCH_GRAFANA_URL"
DATASOURCE_UID: Final = "harmwatch-prometheus"

OVERVIEW_UID: Final = "harmwatch-overview"
PIPELINE_UID: Final = "harmwatch-pipeline"
FOLDER_UID: Final = "harmwatch"
FOLDER_TITLE: Final = "harmwatch"
# Grafana refuses uids longer than 40 characters.
MAX_UID_LEN: Final = 40

ENGINEERING_TEAM: Final = "harmwatch-eng"
PIPELINE_RUNBOOK: Final = "https://runbooks.example.com/harmwatch/pipeline"
RULES_FILE: Final = "deploy/prometheus/rules/harmwatch-alerts.yml"
DASHBOARDS_DIR: Final = "deploy/grafana/dashboards"

# Alertmanager's `severity` is about who gets woken, not the engine's level name.
ROUTING_SEVERITY: Final[dict[Severity, str]] = {"critical": "page", "warn": "ticket"}


def camel(identifier: str) -> str:
    """``youth_safety`` -> ``YouthSafety``; digits stay where they are (``p95`` -> ``P95``)."""
    return "".join(part[:1].upper() + part[1:] for part in identifier.split("_") if part)


def alert_name(area: str, signal: str, severity: Severity) -> str:
    return f"{camel(area)}{camel(signal)}{camel(severity)}"


def _bounded_uid(base: str) -> str:
    if len(base) <= MAX_UID_LEN:
        return base
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    return f"{base[:MAX_UID_LEN - 9]}-{digest}"


def area_dashboard_uid(area: str) -> str:
    return _bounded_uid(f"harmwatch-{area.replace('_', '-')}")


def grafana_url(explicit: str | None = None) -> str:
    """The Grafana base URL for links: the flag, else ``$HARMWATCH_GRAFANA_URL``, else local."""
    url = explicit or os.environ.get(GRAFANA_URL_ENV) or DEFAULT_GRAFANA_URL
    return url.rstrip("/")


def dashboard_link(base_url: str, uid: str) -> str:
    return f"{base_url.rstrip('/')}/d/{uid}"
