"""`harmwatch run`: replay with metrics, the simulator, and a clean Ctrl-C."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.config_files import load_config
from streams.embedded.run import EmbeddedJob, RunOptions
from streams.sources.simulator import INVALID_SAMPLES, Simulator, schedule
from tests.helpers import T0, ev, line
from tests.support import HARMWATCH, REPO, free_port, wait_until

CONFIG = load_config(REPO / "config" / "thresholds.yaml")


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def harmwatch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*HARMWATCH, *args], cwd=REPO,
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
        wait_until(lambda: "replay finished" in (proc.stdout.readline() if proc.stdout else ""),
                   60, "the replay to finish")
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
        first = wait_until(lambda: proc.stdout.readline() if proc.stdout else "", 90,
                           "the first alert line")
        # The shipped rules are relative: the line names the area's expected value and the
        # score against its level (an absolute rule's line says threshold= instead).
        assert "FIRING" in first and "expected=" in first and "score=" in first
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
    good: dict[str, Any] = {"version": 1, "defaults": {"report_volume": {"window": "1m", "warn": 5,
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

    def config_line() -> str:
        text = next_line()
        return text if "config" in text else ""

    try:
        wait_until(lambda: "replay finished" in next_line(), 60, "the replay to finish")
        assert scrape(port)[level] == 10
        time.sleep(1.1)  # a new mtime, even on coarse-grained file systems
        thresholds.write_text(yaml.safe_dump(
            {"version": 1, "defaults": {"report_volume": {"window": "1 min", "warn": 5}}}))
        refused = wait_until(config_line, 30, "a config log line (the refusal)")
        assert "config refused" in refused
        assert "defaults.report_volume.window: '1 min' is not a duration" in refused
        assert proc.poll() is None and scrape(port)[level] == 10
        time.sleep(1.1)
        good["defaults"]["report_volume"]["critical"] = 20
        thresholds.write_text(yaml.safe_dump(good))
        reloaded = wait_until(config_line, 30, "a config log line (the reload)")
        assert "config reloaded" in reloaded
        assert scrape(port)[level] == 20
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def _simulator_truth(live_from: dt.datetime, duration_s: int,
                     prefill_s: int = 0) -> tuple[int, int]:
    """(distinct valid events, invalid lines) the default simulator sends: ``prefill_s`` of
    history before ``live_from``, then ``duration_s``, with the same seed, incidents and
    invalid rate as ``harmwatch run``, counted with orjson."""
    sim = Simulator(start=live_from - dt.timedelta(seconds=prefill_s), seed=7,
                    incidents=schedule(live_from, 10_000), invalid_rate=0.0005)
    ids: set[str] = set()
    invalid = 0
    for _, raw in sim.lines(prefill_s + duration_s):
        if raw in INVALID_SAMPLES:
            invalid += 1
        else:
            ids.add(orjson.loads(raw)["event_id"])
    return len(ids), invalid


def test_simulator_far_ahead_of_the_wall_clock_keeps_counting(
        capsys: pytest.CaptureFixture[str]) -> None:
    # #9 item 1: at 20x the simulator's clock is 10 minutes ahead of the wall after ~30 s,
    # and every event was then refused as future-dated. At 1000x that is after 0.6 s; run
    # 40 minutes of event time after the hour of history that warms the relative baselines
    # (the first incidents fire and resolve).
    duration, prefill = 2400, 3600
    job = EmbeddedJob(CONFIG, RunOptions(metrics_port=None, live=False, speed=1000.0,
                                         prefill_s=prefill, duration_s=duration))
    assert job.run() == 0
    assert job.paced_from is not None
    counted, invalid = _simulator_truth(dt.datetime.fromtimestamp(job.paced_from, dt.UTC),
                                        duration, prefill)
    assert "future_timestamp:occurred_at" not in {r for _, r in job.pipeline.invalid}
    assert job.pipeline.invalid_total == invalid
    assert job.pipeline.engine.ingest.counted == counted
    out = capsys.readouterr().out
    assert "FIRING" in out and "RESOLVED" in out


def test_simulator_still_refuses_an_event_far_ahead_of_its_own_clock() -> None:
    job = EmbeddedJob(CONFIG, RunOptions(metrics_port=None, live=False, prefill_s=0,
                                         duration_s=1))
    # Arrival times on the source's clock, a day in the past: replayed unpaced.
    t = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).timestamp()
    base = T0.timestamp()
    sent = [(0, 0), (1, 1 + 500), (2, 2 + 700), (3, 3)]  # (arrival, occurred) after t
    job.source = iter([(t + a, line(ev("report", t + o - base, "body_image")))
                       for a, o in sent])
    assert job.run() == 0
    # 700 s ahead is refused; 500 s ahead is admitted (and makes the last one late).
    assert job.pipeline.invalid == {("unknown", "future_timestamp:occurred_at"): 1}
    ingest = job.pipeline.engine.ingest
    assert (ingest.counted, ingest.late) == (2, 1)


def test_file_replay_at_a_speed_admits_what_a_backtest_admits(tmp_path: Path) -> None:
    # A file is history: a line dated a day after the rest is counted at any --speed, as
    # `harmwatch backtest` counts it (and the lines after it are late there too).
    events = [ev("report", i, "body_image") for i in range(5)]
    events.append(ev("report", 86_400, "body_image"))
    events.append(ev("report", 6, "body_image"))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(line(e) for e in events) + b"\n")
    job = EmbeddedJob(CONFIG, RunOptions(events=path, speed=1e6, metrics_port=None,
                                         live=False, exit_at_end=True))
    assert job.run() == 0
    assert job.pipeline.invalid == {}
    assert (job.pipeline.engine.ingest.counted, job.pipeline.engine.ingest.late) == (6, 1)
