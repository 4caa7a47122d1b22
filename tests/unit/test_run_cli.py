"""`harmwatch run`: replay with metrics, the simulator, and a clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from streams.dev.kafka_broker import free_port
from tests.helpers import REPO, ev, line


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def wait_for(predicate, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except OSError as exc:
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting ({last_error})")


def harmwatch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_replay_serves_signals_and_alert_state(tmp_path: Path) -> None:
    events = [ev("decision", i * 10, "youth_safety", verdict="violating", action="remove",
                 minor_audience=True) for i in range(90)]  # 15 minutes, 6 per minute
    events += [ev("report", 1000 + i, "body_image") for i in range(3)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(line(e) for e in events) + b"\n" + b"{broken\n")
    # An absolute rule: the shipped relative ones rightly stay quiet on 15 minutes of history.
    (tmp_path / "policy_areas.yaml").write_bytes((REPO / "config/policy_areas.yaml").read_bytes())
    config = tmp_path / "thresholds.yaml"
    config.write_text("version: 1\ndefaults:\n  minor_exposure: {window: 5m, step: 1m, warn: 6, "
                      "critical: 12, for: 2m}\n  report_volume: {window: 5m, step: 1m}\n")
    port = free_port()
    proc = harmwatch("run", "--events", str(path), "--metrics-port", str(port), "--no-live",
                     "--config", str(config))
    try:
        wait_for(lambda: "replay finished" in (proc.stdout.readline() if proc.stdout else ""),
                 timeout=60)
        m = scrape(port)
        key = (("market", ""), ("policy_area", "youth_safety"), ("signal", "minor_exposure"))
        # The last window is [12:00, 17:00) after T0 (the reports at 16:40 close it): it holds
        # the decisions from 12:00 to 14:50, six a minute.
        assert m[("harmwatch_signal_value", key)] == 18
        assert m[("harmwatch_alert_state", (*key[:2], ("severity", "critical"), key[2]))] == 2
        assert m[("harmwatch_signal_threshold", (("policy_area", "youth_safety"),
                                                 ("severity", "critical"),
                                                 ("signal", "minor_exposure")))] == 12
        assert m[("harmwatch_events_total", (("outcome", "counted"),
                                             ("policy_area", "youth_safety"),
                                             ("stream", "decision")))] == 90
        assert m[("harmwatch_invalid_events_total", (("reason", "not_json"),
                                                     ("stream", "unknown")))] == 1
        assert any(name == "harmwatch_config_info" for name, _ in m)
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        assert "e1" not in text.split()  # no event ids anywhere in the exposition
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped: 93 events counted" in out


def test_simulator_runs_logs_alerts_and_stops_cleanly_on_ctrl_c() -> None:
    port = free_port()
    proc = harmwatch("run", "--no-live", "--metrics-port", str(port), "--speed", "600",
                     "--prefill", "1h")
    try:
        # Incidents start right after the prefill, which warms the relative baselines; at 600x
        # one pages within a few seconds.
        first = wait_for(lambda: (proc.stdout.readline() if proc.stdout else "") or None,
                         timeout=90)
        assert "FIRING" in first and "threshold=" in first
        m = scrape(port)
        counted = sum(v for (name, _), v in m.items() if name == "harmwatch_events_total")
        assert counted > 1000
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "stopped:" in out


def test_config_hot_reload_refuses_bad_files_and_keeps_the_last_good(tmp_path: Path) -> None:
    import yaml

    from tests.helpers import TAXONOMY

    (tmp_path / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    thresholds = tmp_path / "thresholds.yaml"
    good = {"version": 1, "defaults": {"report_volume": {"window": "1m", "warn": 5,
                                                         "critical": 10}}}
    thresholds.write_text(yaml.safe_dump(good))
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(line(ev("report", i, "body_image")) for i in range(200)))
    port = free_port()
    proc = harmwatch("run", "--events", str(events), "--config", str(thresholds),
                     "--metrics-port", str(port), "--no-live")
    level = ("harmwatch_signal_threshold", (("policy_area", "body_image"),
                                            ("severity", "critical"),
                                            ("signal", "report_volume")))

    def next_line() -> str:
        return proc.stdout.readline() if proc.stdout else ""

    try:
        wait_for(lambda: "replay finished" in next_line(), timeout=60)
        assert scrape(port)[level] == 10
        time.sleep(1.1)  # a new mtime, even on coarse-grained file systems
        thresholds.write_text(yaml.safe_dump(
            {"version": 1, "defaults": {"report_volume": {"window": "1 min", "warn": 5}}}))
        refused = wait_for(lambda: (lambda s: s if "config" in s else None)(next_line()))
        assert "config refused" in refused
        assert "defaults.report_volume.window: '1 min' is not a duration" in refused
        assert proc.poll() is None and scrape(port)[level] == 10
        time.sleep(1.1)
        good["defaults"]["report_volume"]["critical"] = 20
        thresholds.write_text(yaml.safe_dump(good))
        reloaded = wait_for(lambda: (lambda s: s if "config" in s else None)(next_line()))
        assert "config reloaded" in reloaded
        assert scrape(port)[level] == 20
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
