"""End to end on 127.0.0.1: harmwatch replays an incident, real Prometheus scrapes it every
second and evaluates the committed rules, real Alertmanager routes with the committed config
(receivers pointed at this test), and the page and its resolution arrive here.

The breach-to-page latency is measured from the moment /metrics first shows the engine's
state 2 to the moment the pager webhook arrives; the goal is 5 s.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts.sink import Received, Sink
from tests.alerting.alerting_stack import (
    HARMWATCH,
    Processes,
    alertmanager_config,
    binary,
    http_get,
    poll,
    prometheus_config,
    write_yaml,
)
from tests.support import free_port

ALERT = "YouthSafetyMinorExposureCritical"
WARN = "YouthSafetyMinorExposureWarn"
STATE = {"policy_area": "youth_safety", "market": "", "signal": "minor_exposure",
         "severity": "critical"}
ROUTING_KEY = "test-routing-key-5b1e"
PD_DETAILS = {"firing", "resolved", "num_firing", "num_resolved", "value", "threshold",
              "expected", "threshold_now", "score", "window", "runbook", "dashboard"}
# At 60x, one minute of event time (the windows' step) passes in one second. minor_exposure
# is judged against the area's own baseline (count_surprise, 1h baseline of 1-minute steps
# over 10-minute windows): it warms up after 30 judged windows past the 9 overlapping ones,
# about 40 minutes of event time, and cannot page before. The incident starts at 45m.
SPEED = "60"


def _state(metrics_url: str) -> float | None:
    text = http_get(metrics_url).decode()
    for family in text_string_to_metric_families(text):
        if family.name != "harmwatch_alert_state":
            continue
        for sample in family.samples:
            if all(sample.labels.get(k) == v for k, v in STATE.items()):
                return float(sample.value)
    return None


def _alerts(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [a for a in body.get("alerts", []) if a["labels"].get("alertname") == name]


@pytest.fixture
def sink() -> Iterator[Sink]:
    receiver = Sink().start()
    yield receiver
    receiver.stop()


def test_incident_pages_and_resolves(tmp_path: Path, procs: Processes, sink: Sink,
                                     record_property: Callable[[str, object], None]) -> None:
    events = tmp_path / "incident.jsonl"
    subprocess.run([HARMWATCH, "simulate", "--out", str(events), "--duration", "70m",
                    "--incidents", "1", "--incidents-after", "45m"], check=True,
                   capture_output=True, timeout=120)

    key_file = tmp_path / "routing-key"
    key_file.write_text(ROUTING_KEY + "\n")
    am_port, prom_port, hw_port = free_port(), free_port(), free_port()
    am_yml = write_yaml(tmp_path / "alertmanager.yml",
                        alertmanager_config(sink.port, key_file, group_interval="2s"))
    procs.start("alertmanager", [
        binary("prometheus-alertmanager"), f"--config.file={am_yml}",
        f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address="])
    procs.wait_ready("alertmanager", f"http://127.0.0.1:{am_port}/-/ready")

    prom_yml = write_yaml(tmp_path / "prometheus.yml", prometheus_config(hw_port, am_port))
    procs.start("prometheus", [
        binary("prometheus"), f"--config.file={prom_yml}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}"])
    procs.wait_ready("prometheus", f"http://127.0.0.1:{prom_port}/-/ready")

    procs.start("harmwatch", [HARMWATCH, "run", "--events", str(events), "--speed", SPEED,
                              "--no-live", "--metrics-port", str(hw_port)])
    metrics = f"http://127.0.0.1:{hw_port}/metrics"
    procs.wait_ready("harmwatch", metrics)

    # Breach: the engine's own state turns 2 (polled ten times a second).
    poll("the engine to fire " + ALERT, lambda: _state(metrics) == 2, timeout_s=120,
         every_s=0.1)
    breach_at = time.time()

    def paged(item: Received) -> bool:
        return item.path == "/pager" and any(a["status"] == "firing"
                                             for a in _alerts(item.body, ALERT))

    page = sink.wait_for(paged, timeout_s=60)
    latency = page.at - breach_at
    print(f"\nbreach-to-page latency: {latency:.2f} s")
    record_property("breach_to_page_s", round(latency, 2))
    assert latency < 10, f"page took {latency:.2f} s after the breach (goal 5 s)"

    alert = _alerts(page.body, ALERT)[0]
    assert alert["labels"] == {"alertname": ALERT, "severity": "page",
                               "policy_area": "youth_safety", "signal": "minor_exposure",
                               "team": "youth-safety-policy"}
    ann = alert["annotations"]
    # youth_safety pages at surprise 4 (config/thresholds.yaml); the alert says what was
    # judged: the raw count against the area's expected count, the score against the level.
    assert float(ann["threshold"]) == 4
    assert float(ann["score"]) >= 3.2  # at or above the clear level while it fires
    # A scored window is material: at least twice (min_ratio) the expected count.
    assert float(ann["expected"]) > 0 and float(ann["value"]) >= 2 * float(ann["expected"])
    assert ann["window"] == "10m"
    assert ann["runbook_url"] == "https://runbooks.example.com/harmwatch/youth_safety"
    assert ann["dashboard_url"] == "http://localhost:3000/d/harmwatch-youth-safety"
    # The level in the signal's unit: a whole count, past the floors (3 cases, 2x expected).
    at = float(ann["effective_threshold"])
    assert at == int(at) and at >= max(3, 2 * float(ann["expected"]))
    assert (f"is {ann['value']} over the last 10m event-time window against the area's "
            f"expected {ann['expected']} (decisions); the critical level is "
            f"{ann['effective_threshold']} in this window (surprise 4; this window's surprise "
            f"is {ann['score']}: surprise: -log10 of the chance") in ann["description"]
    assert page.body["groupLabels"] == {"alertname": ALERT, "policy_area": "youth_safety"}

    # The same page through the PagerDuty receiver, rendered by our templates.
    pd = sink.wait_for(lambda r: r.path == "/pagerduty/pager"
                       and r.body.get("event_action") == "trigger", timeout_s=30).body
    assert pd["routing_key"] == ROUTING_KEY
    payload = pd["payload"]
    assert ALERT in payload["summary"] and "youth_safety" in payload["summary"]
    assert payload["severity"] == "critical" and payload["component"] == "youth_safety"
    details = payload["custom_details"]
    assert set(details) == PD_DETAILS
    assert details["value"] == ann["value"] and details["threshold"] == ann["threshold"]
    assert details["window"] == "10m"
    assert details["runbook"] == ann["runbook_url"]
    assert details["dashboard"] == ann["dashboard_url"]
    assert details["expected"] == ann["expected"] and details["score"] == ann["score"]
    assert details["threshold_now"] == ann["effective_threshold"]
    # Never "value 26, threshold 4": a count next to a score level.
    assert (f"value {ann['value']}, expected {ann['expected']}, threshold now "
            f"{ann['effective_threshold']}, window 10m\n  score {ann['score']}, score level 4"
            ) in details["firing"]
    assert {link["href"] for link in pd["links"]} == {ann["runbook_url"],
                                                     ann["dashboard_url"]}

    # The warning of the same area and signal is held back while the page fires.
    filter_ = urllib.parse.quote(f'alertname="{WARN}"')

    def warn_inhibited() -> bool:
        answer = json.loads(http_get(f"http://127.0.0.1:{am_port}/api/v2/alerts?"
                                     f"filter={filter_}"))
        return any(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]
                   for a in answer)

    poll(f"{WARN} to be inhibited", warn_inhibited, timeout_s=30, every_s=0.5)

    def resolved(item: Received) -> bool:
        return item.path == "/pager" and any(a["status"] == "resolved"
                                             for a in _alerts(item.body, ALERT))

    sink.wait_for(resolved, timeout_s=120)
    tickets = [r for r in sink.snapshot() if r.path == "/tickets"]
    assert not [a for t in tickets for a in _alerts(t.body, WARN) if a["status"] == "firing"]
    # Notifications carry the bounded labels and generated annotations only.
    for item in sink.snapshot():
        for a in item.body.get("alerts", []):
            assert set(a["labels"]) <= {"alertname", "severity", "policy_area", "signal",
                                        "team", "route", "stream", "topic", "instance", "job"}
