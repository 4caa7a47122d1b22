"""The short chaos run (benchmarks/chaos.py) as a test: a real broker, two workers, one of
each of the seven fault kinds, and an exact comparison with the partitioned backtest.

Fixed seed and a small input so it takes a few minutes; on failure the run's table, its
fault sequence and the first differing keys are in the assertion message, and everything
(input, logs, every worker's rows) stays in the test's tmp dir.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.integration

SEED = 7
FAULTS = 7  # one of each kind: kill, kill-takeover, kill-both, sigstop, third, one, broker
EVENTS = 30_000


def test_short_chaos_run_matches_the_partitioned_backtest(tmp_path: Path) -> None:
    work = tmp_path / "chaos"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "chaos.py"), "--seed", str(SEED),
         "--faults", str(FAULTS), "--events", str(EVENTS), "--work", str(work),
         "--label", "CI short", "--counters-at-least"],
        cwd=REPO, text=True, capture_output=True, timeout=1500)
    tail = (done.stdout + done.stderr)[-6000:]
    result = json.loads((work / "result.json").read_text())
    # The input really has what the run is about, so an exact match is not vacuous.
    assert result["edits"]["cut_appeals"] > 0 and result["edits"]["moved_late"] > 0, tail
    assert result["edits"]["copied"] > 0, tail
    kinds = {f.split(":", 1)[0] for f in result["faults"]}
    assert kinds == {"kill", "kill-takeover", "kill-both", "sigstop", "third", "one",
                     "broker"}, tail
    assert result["rows_expected"] > 1000 and result["episodes"][1] > 0, tail
    assert result["settled"], tail
    assert result["producer_rc"] == 0, tail
    assert (result["missing"], result["extra"], result["differing"],
            result["conflicting"]) == (0, 0, 0, 0), tail
    assert result["late_panes"] == 0, tail
    assert result["episodes_equal"], tail
    assert result["crashes"] == [], tail
    for outcome, (got, want) in result["counters"].items():
        # Nothing lost. Exact equality is the goal and held in every short run of session 8
        # (seeds 7 and 9-12), but the long form still exported 589 of 1,016,359 twice with
        # no snapshot written across a stall: an open hole of the exact counters
        # (docs/chaos.md), so the CI form checks only for losses.
        assert got >= want, f"{outcome}: workers counted {got}, the file has {want}\n{tail}"
    assert done.returncode == 0, tail
