"""The collector takes any object with ``events`` and ``invalid`` counters (no cast needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import generate_latest

from alerts.metrics import EventCounters, HarmwatchCollector, new_registry
from signals.config import Config, parse_taxonomy, parse_thresholds
from signals.pipeline import Pipeline


@dataclass
class PlainCounters:
    """Shaped like the Kafka worker's counter record: two dicts, nothing else."""

    events: dict[tuple[str, str, str], int] = field(default_factory=dict)
    invalid: dict[tuple[str, str], int] = field(default_factory=dict)


def _config() -> Config:
    taxonomy = parse_taxonomy({"version": 1, "areas": {"youth_safety": {
        "name": "Youth safety", "owner": "youth-safety-policy",
        "runbook_url": "https://runbooks.example.com/ys"}}})
    return parse_thresholds({"version": 1, "defaults": {
        "minor_exposure": {"window": "5m", "warn": 6, "critical": 12, "for": "2m"}}}, taxonomy)


def _exposition(counters: list[EventCounters]) -> str:
    collector = HarmwatchCollector(_config(), pipelines=counters)
    return generate_latest(new_registry(collector)).decode()


def test_plain_counters_are_summed_with_a_pipeline() -> None:
    config = _config()
    plain = PlainCounters(events={("report", "youth_safety", "counted"): 5},
                          invalid={("unknown", "not_json"): 3})
    pipeline = Pipeline(config)
    pipeline.events[("report", "youth_safety", "counted")] = 2
    pipeline.invalid[("report", "schema")] = 1
    text = _exposition([plain, pipeline])
    assert 'harmwatch_events_total{outcome="counted",policy_area="youth_safety",' \
           'stream="report"} 7.0' in text
    assert 'harmwatch_invalid_events_total{reason="not_json",stream="unknown"} 3.0' in text
    assert 'harmwatch_invalid_events_total{reason="schema",stream="report"} 1.0' in text
    # A valid event arrived on "report": its last-arrival gauge exists, none for the others.
    assert 'harmwatch_last_event_received_timestamp_seconds{stream="report"}' in text
    assert 'stream="decision"' not in text


def test_counts_read_at_scrape_time() -> None:
    plain = PlainCounters()
    collector = HarmwatchCollector(_config(), pipelines=[plain])
    registry = new_registry(collector)
    assert "harmwatch_events_total{" not in generate_latest(registry).decode()
    plain.events[("appeal", "youth_safety", "late")] = 4
    assert 'harmwatch_events_total{outcome="late",policy_area="youth_safety",' \
           'stream="appeal"} 4.0' in generate_latest(registry).decode()
