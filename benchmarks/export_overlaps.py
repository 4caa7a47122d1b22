"""Reads the export trace of a chaos run (``HARMWATCH_EXPORT_TRACE``, see
``streams/kafka/export_trace.py``) and prints every stretch of a source partition's count
that two processes exported, with the restores around it.

    HARMWATCH_EXPORT_TRACE=/tmp/trace/x .venv/bin/python benchmarks/chaos.py ...
    .venv/bin/python benchmarks/export_overlaps.py '/tmp/trace/x.*'
"""

from __future__ import annotations

import glob
import json
import sys
from collections import defaultdict
from typing import Any


def main(pattern: str) -> int:
    rows: list[dict[str, Any]] = []
    for name in glob.glob(pattern):
        with open(name, encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["t"]):
        by_source[row["source"]].append(row)
    overlaps = 0
    for source, events in sorted(by_source.items()):
        exports = sorted((e for e in events if e["kind"] == "export" and e["after"] > e["before"]),
                         key=lambda e: (e["before"], e["t"]))
        reach = 0
        last: dict[str, Any] | None = None
        for e in exports:
            if e["before"] < reach and last is not None:
                overlaps += 1
                twice = min(reach, e["after"]) - e["before"]
                print(f"{source}: {twice} counted twice: pid {last['pid']} exported "
                      f"{last['before']}-{last['after']} at {last['t']:.3f}, pid {e['pid']} "
                      f"{e['before']}-{e['after']} at {e['t']:.3f}")
                lo, hi = min(last["t"], e["t"]) - 30, max(last["t"], e["t"]) + 5
                for r in events:
                    if lo <= r["t"] <= hi and r["kind"] == "restore":
                        print(f"    restore by pid {r['pid']} at {r['t']:.3f}: offset "
                              f"{r['next_offset']}, counted {r['after']}, exported {r['before']}")
            if e["after"] > reach:
                reach, last = e["after"], e
    print(f"{len(rows):,} trace lines, {len(by_source)} source partitions, {overlaps} overlaps")
    return 1 if overlaps else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
