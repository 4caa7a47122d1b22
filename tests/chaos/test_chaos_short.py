"""The short chaos run (benchmarks/chaos.py) as a test: a real broker, two workers, one of
each of the seven fault kinds, and an exact comparison with the backtest of the source
topics' logs (`backtest --from-kafka`), which must hold the input file exactly: rows,
episodes, late panes and, from the export trace, the counters.

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


def test_short_chaos_run_matches_the_backtest_of_the_logs(tmp_path: Path) -> None:
    work = tmp_path / "chaos"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "chaos.py"), "--seed", str(SEED),
         "--faults", str(FAULTS), "--events", str(EVENTS), "--work", str(work),
         "--label", "CI short"],
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
    # The logs hold the file: every distinct valid id counted or late in both backtests,
    # the same invalid lines, duplicates only added (a producer retry).
    (lc, fc), (ld, fd), (ll, fl), (li, fi) = (result["logs_vs_file"][k] for k in (
        "counted", "duplicate", "late", "invalid"))
    assert (lc + ll, li) == (fc + fl, fi) and ld >= fd, tail
    assert result["producer_rc"] == 0, tail
    assert (result["missing"], result["extra"], result["differing"],
            result["conflicting"]) == (0, 0, 0, 0), tail
    assert result["late_panes"] == 0, tail
    assert result["episodes_equal"], tail
    assert result["crashes"] == [], tail
    # Exact counters, from the export trace: every process's exports summed equal the file's
    # truth, no stretch of a partition exported twice or by nobody, and each process's last
    # /metrics scrape agrees with its trace (benchmarks/chaos.py). The scrapes alone can
    # fall short by what a killed worker exported after its last one (docs/chaos.md).
    assert result["trace_overlaps"] == [] and result["trace_gaps"] == [], tail
    assert result["scrape_mismatches"] == [], tail
    for outcome, (got, want) in result["traced"].items():
        assert got == want, f"{outcome}: workers exported {got}, the logs have {want}\n{tail}"
    assert result["traced"]["counted"][1] > 10_000, tail
    assert done.returncode == 0, tail
