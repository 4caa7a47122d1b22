"""The generated threat rules route each kind to its receiver, and the exposition carries no
advertiser id and only a bounded top-k of tags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from alerts.rules import rules_document
from alerts.threat_metrics import ThreatCollector
from signals.engine import Engine
from signals.events import Rejected, decode_event
from streams.config_files import load_config, load_threats
from streams.sources.threat_traffic import CAMPAIGN_ADVERTISER, EMERGING_TAG
from tests.support import REPO
from tests.threats.threat_fixture import incidents, threat_lines


def _route_of(labels: dict[str, str]) -> str:
    """Walk deploy/alertmanager/alertmanager.yml's routes by hand (first match wins)."""
    doc = yaml.safe_load((REPO / "deploy/alertmanager/alertmanager.yml").read_text())
    route = doc["route"]
    receiver = route["receiver"]
    while True:
        for child in route.get("routes", []):
            wanted = dict(m.replace('"', "").split("=", 1) for m in child["matchers"])
            if all(labels.get(k) == v for k, v in wanted.items()):
                route, receiver = child, child["receiver"]
                break
        else:
            return str(receiver)


def _threat_rules() -> list[dict[str, object]]:
    doc = rules_document(load_config(), "http://grafana.example")
    [group] = [g for g in doc["groups"] if g["name"] == "harmwatch-threats"]
    rules: list[dict[str, object]] = group["rules"]
    return rules


def test_drops_page_engineering_and_the_others_page_policy() -> None:
    routes: dict[str, set[str]] = {}
    for rule in _threat_rules():
        labels = rule["labels"]
        assert isinstance(labels, dict)
        routes.setdefault(str(labels["signal"]), set()).add(_route_of(labels))
    assert routes["drop_automated"] == routes["drop_decisions"] == {"engineering-pager"}
    assert routes["emerging_tag"] == routes["advertiser_concentration"] == {"pager"}


def test_the_committed_rules_file_has_the_threat_group() -> None:
    text = Path(REPO / "deploy/prometheus/rules/harmwatch-alerts.yml").read_text()
    assert "HarmwatchEmergingTagScamsFraud" in text and "HarmwatchDropAutomated" in text


@pytest.fixture(scope="module")
def exposition() -> tuple[str, Engine]:
    h = dt.timedelta(hours=1)
    lines = threat_lines(int(2.5 * 3600), incidents(emerging_at=1.5 * h,
                                                      concentration_at=1.5 * h,
                                                      drop_at=2.2 * h), seed=3)
    engine = Engine(load_config(), load_threats())
    collector = ThreatCollector()
    text = ""
    for i, raw in enumerate(lines):
        event = decode_event(raw)
        if not isinstance(event, Rejected):
            engine.ingest.ingest(event)
        if i % 20000 == 0 and engine.threats is not None:
            collector.publish([engine.threats])
            registry = CollectorRegistry()
            registry.register(collector)
            text += generate_latest(registry).decode()
    return text, engine


def test_exposition_never_names_an_advertiser(exposition: tuple[str, Engine]) -> None:
    text, engine = exposition
    assert "harmwatch_advertiser_top_share" in text
    assert CAMPAIGN_ADVERTISER not in text and "adv-" not in text
    assert engine.threats is not None and any(
        e.signal == "advertiser_concentration" for e in engine.threats.episodes)


def test_tag_series_are_a_bounded_top_k(exposition: tuple[str, Engine]) -> None:
    text, _ = exposition
    k = load_threats().emerging.top_k
    assert f'tag="{EMERGING_TAG}"' in text  # the planted tag reached the top-k
    scrapes = text.split("# HELP harmwatch_threat_alerts_open")[1:]
    assert scrapes
    for scrape in scrapes:
        per_area: dict[str, int] = {}
        for row in scrape.splitlines():
            if row.startswith("harmwatch_emerging_tag_events{"):
                area = row.split('policy_area="')[1].split('"')[0]
                per_area[area] = per_area.get(area, 0) + 1
        assert all(n <= k for n in per_area.values())
