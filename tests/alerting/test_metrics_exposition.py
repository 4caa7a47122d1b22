"""The real /metrics of `harmwatch run` passes `promtool check metrics` and carries every
metric the generated rules and dashboards query."""

from __future__ import annotations

import re
import subprocess

from alerts import conventions as c
from tests.alerting.alerting_stack import (
    DASHBOARDS,
    HARMWATCH,
    RULES,
    Processes,
    binary,
    http_get,
    poll,
)
from tests.support import free_port

# Exported by the Kafka worker only (streams/kafka/worker_metrics.py).
NOT_EMBEDDED = {c.CONSUMER_LAG, c.LOG_TRUNCATED_TOTAL, c.SNAPSHOTS_REFUSED_TOTAL,
                c.SNAPSHOT_WRITES_STALLED_TOTAL}
# Exposed once an area has a drop reference: 2 h of trailing history (or a previous day),
# beyond the hour of history `harmwatch run` starts with (a longer prefill takes minutes
# on a shared machine). tests/alerting/test_threat_dashboards.py scrapes it for real.
WARMING_AFTER_THE_PREFILL = {c.DROP_RATIO}


def test_promtool_check_metrics_on_a_running_exporter(procs: Processes) -> None:
    port = free_port()
    procs.start("harmwatch", [HARMWATCH, "run", "--no-live", "--metrics-port", str(port)])
    url = f"http://127.0.0.1:{port}/metrics"
    procs.wait_ready("harmwatch", url, timeout_s=60)
    # The simulator prefills an hour of history first; wait until signals and states exist.
    def populated() -> str | None:
        text = http_get(url).decode()
        # The simulator's invalid lines are rare: wait for the first so its counter exists.
        # Relative rules' judgements appear once their baselines are warm (within the hour).
        wanted = ("harmwatch_signal_value{", "harmwatch_last_event_received_timestamp_seconds{",
                  "harmwatch_invalid_events_total{", "harmwatch_signal_score{",
                  "harmwatch_signal_expected{", "harmwatch_signal_warming{")
        return text if all(w in text for w in wanted) else None

    text = poll("signal values on /metrics", populated, timeout_s=90, every_s=0.5)

    result = subprocess.run([binary("promtool"), "check", "metrics"], input=text,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""

    names = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    queried = set(re.findall(r"\bharmwatch_[a-z0-9_]+", RULES.read_text()))
    for board in DASHBOARDS.glob("*.json"):
        queried |= set(re.findall(r"\bharmwatch_[a-z0-9_]+", board.read_text()))
    assert "harmwatch_alert_state" in queried and "harmwatch_signal_threshold" in queried
    missing = queried - names - NOT_EMBEDDED - WARMING_AFTER_THE_PREFILL
    assert not missing, f"rules or dashboards query metrics the exporter lacks: {missing}"
    assert 'harmwatch_alert_state{market="",policy_area="youth_safety",severity="critical",' \
           'signal="minor_exposure"}' in text
