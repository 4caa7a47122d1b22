"""An opt-in trace of what each process exports of each source partition's counts.

Set ``HARMWATCH_EXPORT_TRACE=/some/prefix`` and every worker appends JSON lines to
``/some/prefix.<pid>``: one per restore of a partition (its snapshot's counted and exported
totals) and one per export (the partition's cumulative count before and after it). Over
all processes, each partition's exports must tile its count with no overlap; an overlap
names the two processes and moments of a double export, and the exports summed per outcome
must equal the file's truth (``benchmarks/export_overlaps.py``, checked by
``benchmarks/chaos.py``). Source partitions and counts only: no id of any kind.
"""

from __future__ import annotations

import json
import os
import time

from signals.ingest import Tally
from streams.kafka.exact_counts import PartitionCounts

ENV = "HARMWATCH_EXPORT_TRACE"
_PREFIX = os.environ.get(ENV)


def _by_outcome(tally: Tally) -> dict[str, int]:
    out: dict[str, int] = {}
    for (_stream, _area, outcome), n in tally.items():
        out[outcome] = out.get(outcome, 0) + n
    return out


def note(kind: str, source: str, next_offset: int, counts: PartitionCounts) -> None:
    """``counts`` as restored or as about to be exported: its exported and counted
    totals (nothing is computed unless the trace is on)."""
    if _PREFIX is None:
        return
    line = json.dumps({"t": time.time(), "pid": os.getpid(), "kind": kind, "source": source,
                       "next_offset": next_offset,
                       "before": sum(counts.exported_events.values()),
                       "after": sum(counts.events.values()),
                       "outcomes_before": _by_outcome(counts.exported_events),
                       "outcomes_after": _by_outcome(counts.events)})
    with open(f"{_PREFIX}.{os.getpid()}", "a", encoding="utf-8") as out:
        out.write(line + "\n")
