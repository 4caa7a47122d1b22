"""``harmwatch worker`` under ``tracemalloc``: every ``HW_TRACE_EVERY_S`` seconds (default
60) the traced heap's growth since the previous dump, by allocation site, is appended to
``$HW_TRACE_DIR/<pid>.txt`` together with the process's RSS (and, with
``HW_TRACE_TYPES=1``, the growth of live objects by type from ``gc``). A snapshot holds
the GIL: under load the worker's loop stalls for seconds, so do not read latency from a
traced run. Used by ``benchmarks/load_held.py --trace`` to tell a leak from warm-up.

    HW_TRACE_DIR=/tmp/trace .venv/bin/python benchmarks/traced_worker.py worker [flags]
"""

from __future__ import annotations

import collections
import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _dumper(out: Path, every: float, top: int) -> None:
    t0 = time.monotonic()
    prev = tracemalloc.take_snapshot()
    prev_types: collections.Counter[str] = collections.Counter()
    while True:
        time.sleep(every)
        snap = tracemalloc.take_snapshot()
        traced = sum(s.size for s in snap.statistics("filename")) / 2**20
        # gc.get_objects holds the GIL for seconds on a loaded box: only when asked.
        types = collections.Counter(type(o).__name__ for o in gc.get_objects()) \
            if os.environ.get("HW_TRACE_TYPES") else collections.Counter()
        lines = [f"t={time.monotonic() - t0:.0f}s rss={_rss_mib():.0f}MiB "
                 f"traced={traced:.1f}MiB"]
        for stat in snap.compare_to(prev, "lineno")[:top]:
            frame = stat.traceback[0]
            lines.append(f"  {stat.size_diff / 2**20:+8.2f} MiB {stat.count_diff:+9,} "
                         f"blocks  {frame.filename}:{frame.lineno}")
        grown = sorted(((n - prev_types.get(k, 0), k, n) for k, n in types.items()),
                       reverse=True)[:top]
        lines.append("  gc objects grown: " + ", ".join(f"{k} {d:+,} (={n:,})"
                                                      for d, k, n in grown))
        with out.open("a") as fh:
            fh.write("\n".join(lines) + "\n")
        prev, prev_types = snap, types


def main() -> int:
    out_dir = Path(os.environ.get("HW_TRACE_DIR", "."))
    out_dir.mkdir(parents=True, exist_ok=True)
    tracemalloc.start(int(os.environ.get("HW_TRACE_FRAMES", "1")))
    threading.Thread(target=_dumper, daemon=True,
                     args=(out_dir / f"{os.getpid()}.txt",
                           float(os.environ.get("HW_TRACE_EVERY_S", "60")),
                           int(os.environ.get("HW_TRACE_TOP", "15")))).start()
    from streams.cli.main import main as cli

    return cli(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
