"""`harmwatch notify-sink`, the stand-in receiver of docker-compose: prints one line per
notification and never the PagerDuty routing key."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from tests.alerting.alerting_stack import HARMWATCH, Processes, poll
from tests.support import free_port


def _post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        status: int = resp.status
        return status


def test_sink_prints_notifications_without_secrets(procs: Processes) -> None:
    port = free_port()
    procs.start("sink", [HARMWATCH, "notify-sink", "--port", str(port)])
    poll("the sink to listen", lambda: "listening" in procs.log("sink"), timeout_s=30)
    webhook = {"status": "firing", "alerts": [{
        "status": "firing",
        "labels": {"alertname": "YouthSafetyMinorExposureCritical", "severity": "page",
                   "policy_area": "youth_safety"},
        "annotations": {"value": "15", "threshold": "12"}}]}
    assert _post(f"http://127.0.0.1:{port}/pager", webhook) == 202
    assert _post(f"http://127.0.0.1:{port}/pagerduty/pager", {
        "routing_key": "secret-key-123", "event_action": "trigger",
        "payload": {"summary": "[FIRING:1] YouthSafetyMinorExposureCritical"}}) == 202

    log = poll("two printed lines", lambda: (text := procs.log("sink")).count("\n") >= 3
               and text, timeout_s=30)
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    assert lines[0]["path"] == "/pager"
    assert lines[0]["alerts"][0]["alertname"] == "YouthSafetyMinorExposureCritical"
    assert lines[0]["alerts"][0]["value"] == "15"
    assert lines[1]["event_action"] == "trigger"
    assert "secret-key-123" not in log
