"""A running `harmwatch run` records its start config and each hot reload, good or bad."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from streams.governance.audit_log import read_log
from tests.support import REPO


def wait_for_records(log: Path, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, problems = read_log(log)
        assert problems == []
        if len(records) >= count:
            return records
        time.sleep(0.2)
    raise AssertionError(f"{log}: fewer than {count} records after {timeout}s")


def rewrite(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()  # a new mtime even where the file-system clock is coarse
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_hot_reloads_of_a_good_and_a_broken_file_each_append_a_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    thresholds = config / "thresholds.yaml"
    shipped = thresholds.read_text()
    override = "  youth_safety:\n    minor_exposure:\n      warn: 3\n      critical: 4\n"
    assert shipped.count(override) == 1
    log = tmp_path / "audit" / "config.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "run", "--metrics-port", "0", "--no-live",
         "--prefill", "0s", "--config", str(thresholds), "--audit-log", str(log)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        (start,) = wait_for_records(log, 1)
        assert start["event"] == "accepted" and start["trigger"] == "start"

        rewrite(thresholds, shipped.replace(override, override.replace("4", "5")))
        reload = wait_for_records(log, 2)[1]
        rewrite(thresholds, shipped.replace(override, override.replace("4", "four")))
        refused = wait_for_records(log, 3)[2]
        time.sleep(1.5)  # the loop polls every second: nothing more may appear
        assert len(read_log(log)[0]) == 3
        assert proc.poll() is None, "the process kept running on its last good config"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert reload["event"] == "accepted" and reload["trigger"] == "reload"
    assert reload["previous_digest"] == start["digest"] != reload["digest"]
    assert reload["changes"] == [{"field": "areas.youth_safety.minor_exposure.critical",
                                  "old": 4.0, "new": 5.0}]
    assert f"config reloaded: {start['digest']} -> {reload['digest']}" in out
    assert refused["event"] == "refused" and refused["in_force"] == reload["digest"]
    assert "areas.youth_safety.minor_exposure.critical" in refused["reason"]
    assert f"config refused, keeping {reload['digest']}" in out
