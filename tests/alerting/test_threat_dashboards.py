"""The emergent-threat panels of the generated dashboards: every area has them, their levels
are the threats config's, and every query names a series (and labels) that a real
exposition of :class:`alerts.threat_metrics.ThreatCollector` carries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alerts.dashboards import all_dashboards
from alerts.naming import area_dashboard_uid
from alerts.threat_metrics import ThreatCollector
from signals._tagcount import TagCounts
from signals.config import Config
from signals.counts import Counts
from signals.keys import Bucket
from signals.threats import ThreatDetector
from signals.threats_config import ThreatsConfig
from tests.alerting.test_dashboards import THREATS

METRIC = re.compile(r"\bharmwatch_[a-z0-9_]+")
SELECTOR = re.compile(r"\b(harmwatch_[a-z0-9_]+)\{([^}]*)\}")
AREA_TITLES = ("Emerging tags (top of the window)", "Top advertiser's share",
               "Drops: window against the usual", "Open emergent-threat episodes")
PIPELINE_TITLES = ("Drops: window against the usual", "Open drop episodes (engineering)",
                   "Tags and advertisers a full pane could not keep, per second")


def _panels(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in board["panels"]}


def _dashed_levels(panel: dict[str, Any]) -> list[float | None]:
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_every_area_board_has_the_threat_panels_with_the_configured_levels(
        config: Config) -> None:
    boards = all_dashboards(config, THREATS)
    for area in config.areas:
        panels = _panels(boards[f"{area_dashboard_uid(area)}.json"])
        for title in AREA_TITLES:
            assert title in panels, (area, title)
            for t in panels[title]["targets"]:
                assert f'policy_area="{area}"' in t["expr"], (area, title)
        # Levels written in config/threats.yaml: min_count 40, share 0.3, ratio 0.2.
        assert _dashed_levels(panels[AREA_TITLES[0]]) == [None, 40]
        assert _dashed_levels(panels[AREA_TITLES[1]]) == [None, 0.3]
        assert _dashed_levels(panels[AREA_TITLES[2]]) == [None, 0.2]
        assert "at most 5" in panels[AREA_TITLES[0]]["description"]
        assert "HarmwatchDropReports" in panels[AREA_TITLES[2]]["description"]
        # Below the signal panels, on the grid, no overlap.
        bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels.values()
                     if p["title"] not in AREA_TITLES)
        assert min(panels[t]["gridPos"]["y"] for t in AREA_TITLES) == bottom
    pipeline = _panels(boards["harmwatch-pipeline.json"])
    assert set(PIPELINE_TITLES) <= set(pipeline)
    overview = _panels(boards["harmwatch-overview.json"])
    assert "Open emergent-threat episodes by area" in overview


def test_without_the_detectors_there_are_no_threat_panels(config: Config) -> None:
    boards = all_dashboards(config)
    text = str(boards)
    assert "harmwatch_emerging_tag_events" not in text
    assert "harmwatch_drop_ratio" not in text


def test_a_disabled_detector_has_no_panel(config: Config) -> None:
    off = THREATS.model_copy(update={"concentration": THREATS.concentration.model_copy(
        update={"enabled": False})})
    board = all_dashboards(config, off)[f"{area_dashboard_uid(config.areas[0])}.json"]
    assert "Top advertiser's share" not in _panels(board)
    assert "Emerging tags (top of the window)" in _panels(board)


def _exposition(threats: ThreatsConfig, areas: list[str]) -> dict[str, set[str]]:
    """Metric sample name -> label names, from a real scrape of a detector that saw tags,
    advertisers and reports for 160 minutes, then a stop of reports (a drop is open)."""
    detector = ThreatDetector(threats, 60, areas)
    start = 1_795_000_000 // 3600 * 3600
    for minute in range(180):
        pane = start + minute * 60
        live = minute < 160
        bucket: Bucket = {}
        for area in areas:
            counts = Counts()
            counts.reports = 20 if live else 0
            counts.violating = 10
            # Tags and advertisers go on through the stop of reports (so they have series).
            counts.tags = {"report": TagCounts(10, {f"trend-{minute % 7}": 4, "steady": 6})}
            counts.owners = {"violations": {"adv-1": 6, "adv-2": 4}}
            bucket[(area, None)] = counts
        detector.add_pane(pane, bucket)
        detector.close_through(pane + 60)
    assert any(e.signal == "drop_reports" and e.ended_at is None for e in detector.episodes)
    registry = CollectorRegistry()
    collector = ThreatCollector()
    registry.register(collector)
    collector.publish([detector])
    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


@pytest.fixture(scope="module")
def exposed(config: Config) -> dict[str, set[str]]:
    return _exposition(THREATS, list(config.areas[:2]))


def test_the_exposition_has_every_threat_series(exposed: dict[str, set[str]]) -> None:
    for name in ("harmwatch_threat_alerts_open", "harmwatch_emerging_tag_events",
                 "harmwatch_advertiser_top_share", "harmwatch_drop_ratio",
                 "harmwatch_drop_expected_events", "harmwatch_threat_pane_overflow_total"):
        assert name in exposed, name
    assert exposed["harmwatch_emerging_tag_events"] == {"policy_area", "stream", "tag"}
    assert exposed["harmwatch_drop_ratio"] == {"policy_area", "measure"}


def test_every_threat_panel_query_names_exposed_series_and_labels(
        config: Config, exposed: dict[str, set[str]]) -> None:
    prefixes = ("harmwatch_threat", "harmwatch_drop", "harmwatch_emerging",
                "harmwatch_advertiser")
    checked = 0
    for board in all_dashboards(config, THREATS).values():
        for panel in board["panels"]:
            for t in panel["targets"]:
                names = set(METRIC.findall(t["expr"]))
                if not any(n.startswith(prefixes) for n in names):
                    continue
                checked += 1
                for name in names:
                    assert name in exposed, (board["uid"], panel["title"], name)
                labels = exposed[next(iter(names))]
                for by in re.findall(r"by \(([^)]*)\)", t["expr"]):
                    assert {x.strip() for x in by.split(",")} <= labels, (panel["title"], by)
                for name, matchers in SELECTOR.findall(t["expr"]):
                    used = set(re.findall(r"(\w+)=~?\"", matchers))
                    assert used <= exposed[name], (panel["title"], used)
    # 4 per area, 3 on the pipeline board, 1 on the overview.
    assert checked == 4 * len(config.areas) + 3 + 1
