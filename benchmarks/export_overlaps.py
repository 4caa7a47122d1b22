"""Reads the export trace of a chaos run (``HARMWATCH_EXPORT_TRACE``, see
``streams/kafka/export_trace.py``): every stretch of a source partition's count that two
processes exported (with the restores around it), every stretch nobody exported, and the
exports summed per outcome and per process.

``benchmarks/chaos.py`` turns the trace on and checks it; to read one by hand:

    .venv/bin/python benchmarks/export_overlaps.py '/tmp/hw-chaos-.../trace/x.*'

Why a trace and not only the scrapes: a process killed after an export but before the
harness's next scrape of it exported counts no scrape saw (seed 13 of the long form: 418,
docs/chaos.md). The trace line is written in the same synchronous step as the export, so
the trace is what the processes put on their ``/metrics``, scraped or not.
"""

from __future__ import annotations

import glob
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass
class TraceReport:
    """What the trace says: double and missing stretches, and the sums of the exports."""

    lines: int = 0
    sources: int = 0
    overlaps: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    exported: dict[str, int] = field(default_factory=dict)  # outcome -> summed exports
    # pid -> (time, outcome -> exported) for each of its exports
    by_pid: dict[int, list[tuple[float, dict[str, int]]]] = field(default_factory=dict)

    def exported_by(self, pid: int, until: float, inclusive: bool) -> dict[str, int]:
        """What ``pid`` had exported by ``until`` (its wall clock, as the trace's ``t``)."""
        out: dict[str, int] = {}
        for t, deltas in self.by_pid.get(pid, []):
            if t < until or (inclusive and t == until):
                for outcome, n in deltas.items():
                    out[outcome] = out.get(outcome, 0) + n
        return out


def load(pattern: str) -> list[Row]:
    rows: list[Row] = []
    for name in sorted(glob.glob(pattern)):
        with open(name, encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def _deltas(e: Row) -> dict[str, int]:
    """What one export line added to its process's counters, per outcome."""
    before = e.get("outcomes_before", {})
    return {outcome: n - before.get(outcome, 0)
            for outcome, n in e.get("outcomes_after", {}).items() if n != before.get(outcome, 0)}


def _restores_near(events: list[Row], t0: float, t1: float) -> list[str]:
    return [f"    restore by pid {r['pid']} at {r['t']:.3f}: offset {r['next_offset']}, "
            f"counted {r['after']}, exported {r['before']}"
            for r in events if t0 - 30 <= r["t"] <= t1 + 5 and r["kind"] == "restore"]


def check(rows: list[Row]) -> TraceReport:
    report = TraceReport(lines=len(rows))
    by_source: dict[str, list[Row]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["t"]):
        by_source[row["source"]].append(row)
    report.sources = len(by_source)
    for source, events in sorted(by_source.items()):
        exports = sorted((e for e in events if e["kind"] == "export" and e["after"] > e["before"]),
                         key=lambda e: (e["before"], e["t"]))
        reach = 0
        last: Row | None = None
        for e in exports:
            deltas = _deltas(e)
            for outcome, n in deltas.items():
                report.exported[outcome] = report.exported.get(outcome, 0) + n
            report.by_pid.setdefault(int(e["pid"]), []).append((float(e["t"]), deltas))
            if e["before"] < reach and last is not None:
                twice = min(reach, e["after"]) - e["before"]
                report.overlaps.append("\n".join([
                    f"{source}: {twice} counted twice: pid {last['pid']} exported "
                    f"{last['before']}-{last['after']} at {last['t']:.3f}, pid {e['pid']} "
                    f"{e['before']}-{e['after']} at {e['t']:.3f}",
                    *_restores_near(events, min(last["t"], e["t"]), max(last["t"], e["t"]))]))
            elif e["before"] > reach:
                report.gaps.append(f"{source}: {reach}-{e['before']} exported by nobody "
                                   f"(next export by pid {e['pid']} at {e['t']:.3f})")
            if e["after"] > reach:
                reach, last = e["after"], e
    return report


def main(pattern: str) -> int:
    report = check(load(pattern))
    for line in report.overlaps + report.gaps:
        print(line)
    print(f"{report.lines:,} trace lines, {report.sources} source partitions, "
          f"{len(report.overlaps)} overlaps, {len(report.gaps)} gaps; exported "
          + ", ".join(f"{o} {n:,}" for o, n in sorted(report.exported.items())))
    return 1 if report.overlaps or report.gaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
