"""Heap census of a worker's engine state under steady load, with event time running much
faster than the wall clock, so the 1 h baselines and the dedupe horizon fill in minutes
(results in docs/chaos.md "Load held").

    .venv/bin/python benchmarks/heap_census.py [--hours 3] [--per-s 1000] [--every-min 15]

The simulator's traffic (no duplicates), routed by event id over 6 partitions per source
topic as the producer routes it, goes through :class:`signals.local_merge.LocalMerge`: every
source partition's :class:`signals.merge.SourcePartition` and every area's
:class:`signals.merge.AreaMerge`, pane messages through the wire format, rows and closed
episodes drained as the worker's panes side drains them. Every ``--every-min`` minutes of
event time: traced Python heap (``tracemalloc``), its growth by allocation site since the
previous census, and the state the engine holds (dedupe ids, open panes, closed panes and
baseline values kept by the evaluators). Run it pure Python (no ``build-native.sh``) so
that allocation sites are Python lines.

Legitimate growth stops once event time passes the longest horizon (dedupe: two
generations of allowed lateness + two panes; baselines: their window): after that the
traced heap must be flat, whatever the number of events.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOPICS = {b'"type":"decision"': "decisions", b'"type":"appeal"': "appeals",
          b'"type":"report"': "reports"}


def state_counts(lm: object) -> dict[str, int]:
    """What the engine holds, counted (the names are the attributes' own)."""
    parts = lm.parts.values()  # type: ignore[attr-defined]
    merges = lm.merges.values()  # type: ignore[attr-defined]
    ev = [m.evaluator for m in merges]
    return {
        "ids": sum(len(p.ingest._seen) + len(p.ingest._seen_old) for p in parts),
        "open_panes": sum(len(p.ingest._panes) for p in parts),
        "closed_panes": sum(len(e._closed) for e in ev),
        "history": sum(len(d) for e in ev for d in e._history.values()),
        "baseline_values": sum(len(b.values) + len(b.queue) for e in ev
                               for b in e._baselines.values()),
        "episodes": sum(len(e.episodes) for e in ev),
        "rows_pending": sum(len(e.rows) + len(e.transitions) for e in ev),
        "latest": sum(len(e.latest) for e in ev),
    }


def main() -> int:
    p = argparse.ArgumentParser(description="Traced heap of the engine's state vs event time "
                                "(simulated traffic, event time much faster than wall).",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--hours", type=float, default=3.0, help="hours of event time")
    p.add_argument("--per-s", type=float, default=1000.0,
                   help="events per second of event time (simulator scale = this / 25)")
    p.add_argument("--every-min", type=float, default=15.0,
                   help="a census every this many minutes of event time")
    p.add_argument("--partitions", type=int, default=6, help="partitions per source topic")
    p.add_argument("--no-threats", action="store_true",
                   help="without the emergent-threat detectors (the worker runs them when "
                        "config/threats.yaml exists, as it does)")
    p.add_argument("--top", type=int, default=8, help="allocation sites shown per census")
    args = p.parse_args()

    from signals.local_merge import LocalMerge
    from streams.config_files import THREATS_FILE, default_config_path, load_config, load_threats
    from streams.sources.simulator import Simulator

    config = load_config()
    sources = [f"{t}:{k}" for t in TOPICS.values() for k in range(args.partitions)]
    beside = default_config_path().parent / THREATS_FILE
    threats = None if args.no_threats or not beside.is_file() else load_threats(beside, config)
    lm = LocalMerge(config, sources, threats=threats)
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    sim = Simulator(start=start, seed=11, duplicate_rate=0.0, scale=args.per_s / 25)
    offsets = dict.fromkeys(sources, 0)
    tracemalloc.start(1)
    base = tracemalloc.take_snapshot()
    prev = base
    step = args.every_min * 60
    next_census = start.timestamp() + step
    n = 0
    t_wall = time.monotonic()
    for when, line in sim.lines(int(args.hours * 3600)):
        topic = next(t for m, t in TOPICS.items() if m in line)
        eid = line.split(b'"event_id":"', 1)[1].split(b'"', 1)[0]
        src = f"{topic}:{zlib.crc32(eid) % args.partitions}"
        lm.feed(src, offsets[src], line)
        offsets[src] += 1
        n += 1
        if when >= next_census:
            for merge in lm.merges.values():  # as the panes side drains after a batch
                merge.evaluator.drain_rows()
                merge.evaluator.drain_transitions()
                merge.take_closed()
            snap = tracemalloc.take_snapshot()
            traced = sum(s.size for s in snap.statistics("filename")) / 2**20
            counts = state_counts(lm)
            print(f"event time +{(when - start.timestamp()) / 60:5.0f} min  events "
                  f"{n:>10,}  traced {traced:7.1f} MiB  {counts}  "
                  f"({time.monotonic() - t_wall:.0f} s wall)", flush=True)
            for stat in snap.compare_to(prev, "lineno")[:args.top]:
                frame = stat.traceback[0]
                print(f"    {stat.size_diff / 2**20:+8.2f} MiB {stat.count_diff:+9,} blocks  "
                      f"{Path(frame.filename).name}:{frame.lineno}", flush=True)
            prev = snap
            next_census += step
    return 0


if __name__ == "__main__":
    sys.exit(main())
