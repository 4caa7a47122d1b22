"""Modes side by side in one run: one long-lived process per mode, slices in turn.

Each mode is its own process (its own engine, memory and allocator, as a real backtest),
all pinned to the same CPU. The parent tells them one at a time to replay slice ``k`` of
the file and waits for the answer, rotating the order per slice, so every mode runs in the
same seconds of a shared machine and none is always first. A slice is timed by the
child's thread CPU time.

Why processes and not engines in one process: there, whichever engine ran second in a
slice was ~5 % faster (it reused the memory the first had just faulted in and freed), and
two engines competing for one allocator and cache flattered the costlier mode.

Used by ``benchmarks/emerging_tags.py --interleaved``; ``python
benchmarks/interleaved_modes.py --serve MODE --file F --cpu N --slices S`` is the child.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def serve(mode: str, path: Path, cpu: int, slices: int) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.emerging_tags import engine_for, pin, replay

    pin(cpu)
    engine: Any = engine_for(mode)
    lines = path.read_bytes().splitlines(keepends=True)
    step = -(-len(lines) // slices)
    print("ready", flush=True)
    for request in sys.stdin:
        if request.strip() == "end":
            break
        k = int(request)
        began = time.thread_time()
        replay(engine, lines[k * step:(k + 1) * step])
        if k == slices - 1:
            engine.flush()
        print(time.thread_time() - began, flush=True)
    detector = engine.threats
    print(json.dumps({"events": len(lines),
                      "episodes": len(detector.episodes) if detector else 0}), flush=True)


def run(path: Path, cpu: int, slices: int, modes: tuple[str, ...]) -> dict[str, Any]:
    """Per mode: the CPU seconds of each slice, the total, lines and threat episodes."""
    children = {m: subprocess.Popen(
        [sys.executable, __file__, "--serve", m, "--file", str(path), "--cpu", str(cpu),
         "--slices", str(slices)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for m in modes}
    try:
        for child in children.values():
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        per_slice: dict[str, list[float]] = {m: [] for m in modes}
        for k in range(slices):
            shift = k % len(modes)
            for mode in modes[shift:] + modes[:shift]:
                child = children[mode]
                assert child.stdin is not None and child.stdout is not None
                child.stdin.write(f"{k}\n")
                child.stdin.flush()
                per_slice[mode].append(float(child.stdout.readline()))
        out: dict[str, Any] = {}
        for mode, child in children.items():
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("end\n")
            child.stdin.flush()
            summary = json.loads(child.stdout.readline())
            out[mode] = {"per_slice": per_slice[mode], "spent": sum(per_slice[mode]),
                         **summary}
        return out
    finally:
        for child in children.values():
            child.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", required=True)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--slices", type=int, default=60)
    args = parser.parse_args()
    serve(args.serve, args.file, args.cpu, args.slices)


if __name__ == "__main__":
    main()
