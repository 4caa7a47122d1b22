"""The README's main job, run as a new user runs it, for over two minutes of wall time.

`harmwatch run --no-live` with the default simulator and speed (an hour of prefill, then 20x
real time): the events counter grows in every ten-second interval, alerts fire and resolve
(their transition lines on stdout, and the firing state on /metrics), and invalid messages
stay at the rate the simulator injects them. Before #9 item 1 was fixed, every event was
refused as future-dated about 30 s after going live.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import REPO, free_port

pytestmark = pytest.mark.integration

RUN_FOR_S = 130.0
SCRAPE_EVERY_S = 10.0
# streams/embedded/run.py: one invalid message per valid one with probability 0.0005. Over the
# ~130k messages of this run that is ~65 invalid (standard deviation ~8): a factor of two
# either way is over four standard deviations, and far from the ~60 % of the bug.
INJECTED_RATE = 0.0005
RATE_LOW, RATE_HIGH = INJECTED_RATE / 2, INJECTED_RATE * 2
# The default pace sends ~450 events per wall second; an interval must count some of them
# (a loose floor so a busy shared machine does not fail it, far above a stalled counter).
MIN_PER_INTERVAL = 200


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def total(metrics: dict[str, list[tuple[dict[str, str], float]]], name: str,
          **labels: str) -> float:
    """Sum of one exposed sample name; a name that is not exposed fails loudly."""
    assert name in metrics, f"{name} is not exposed; exposed: {sorted(metrics)}"
    return sum(v for lab, v in metrics[name]
               if all(lab.get(k) == want for k, want in labels.items()))


def test_main_job_keeps_counting_alerting_and_resolving_for_two_minutes() -> None:
    port = free_port()
    exe = Path(sys.executable).with_name("harmwatch")  # the console script setup.sh installs
    proc = subprocess.Popen([str(exe), "run", "--no-live", "--metrics-port", str(port)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    # Both pipes drained by threads for the whole run (a full pipe would stall the job).
    lines: list[str] = []
    errors: list[str] = []
    readers = [threading.Thread(target=sink.extend, args=(iter(pipe.readline, ""),),
                                daemon=True)
               for sink, pipe in ((lines, proc.stdout), (errors, proc.stderr)) if pipe]
    for reader in readers:
        reader.start()

    def stderr() -> str:
        proc.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=5)
        return "".join(errors)

    counted: list[float] = []
    firing_seen = False
    try:
        started = time.monotonic()
        deadline = started + 60
        while True:  # the metrics server comes up before the prefill starts
            try:
                first = scrape(port)
                break
            except OSError:
                assert proc.poll() is None, stderr()
                assert time.monotonic() < deadline, "no /metrics within 60 s"
                time.sleep(0.5)
        counted.append(total(first, "harmwatch_events_total", outcome="counted"))
        while time.monotonic() - started < RUN_FOR_S:
            time.sleep(SCRAPE_EVERY_S)
            assert proc.poll() is None, f"harmwatch run exited: {stderr()}"
            m = scrape(port)
            counted.append(total(m, "harmwatch_events_total", outcome="counted"))
            firing_seen = firing_seen or any(v == 2 for _, v in m["harmwatch_alert_state"])
        invalid = total(m, "harmwatch_invalid_events_total")
        reasons = {lab["reason"] for lab, _ in m["harmwatch_invalid_events_total"]}
    finally:
        if proc.poll() is None:
            # SIGTERM (a clean stop, like Ctrl-C): SIGINT is ignored by a job a shell started
            # in the background, and test_run_cli already covers Ctrl-C.
            proc.send_signal(signal.SIGTERM)
        err = stderr()
    assert proc.returncode == 0, err
    assert "Traceback" not in err

    growth = [b - a for a, b in itertools.pairwise(counted)]
    assert len(growth) >= 12, growth
    assert min(growth) >= MIN_PER_INTERVAL, f"counted per {SCRAPE_EVERY_S:g} s: {growth}"

    assert "future_timestamp:occurred_at" not in reasons
    share = invalid / counted[-1]
    assert RATE_LOW <= share <= RATE_HIGH, (invalid, counted[-1], reasons)

    fired = [x for x in lines if " FIRING " in x]
    resolved = [x for x in lines if " RESOLVED " in x]
    assert fired and resolved, lines[-20:]
    assert firing_seen, "no scrape showed harmwatch_alert_state == 2"
    assert len(resolved) >= 2, resolved  # more than the first incident resolves
    print(f"main job: counted per {SCRAPE_EVERY_S:g} s {[int(g) for g in growth]}; invalid "
          f"{invalid:g} of {counted[-1]:g} counted ({share:.5f}); {len(fired)} firing, "
          f"{len(resolved)} resolved lines")
    assert any(x.startswith("stopped:") for x in lines), lines[-5:]
