"""A 20-candidate ``harmwatch tune`` sweep next to one plain backtest, in one run.

Generates a simulator history once (cached in ``benchmarks/.data/``), then for each
repetition, interleaved so drift in the machine hits both alike:

  backtest   ``run_backtest(config, file)``: the whole engine over the file, once
  sweep      ``collect_series`` (one replay keeping one rule's windows) plus ``sweep`` of
             20 candidates (10 levels x 2 ``for`` values), each replaying only what depends on
             the levels
  replays    the 20 candidate replays alone (part of ``sweep``): the alert machine, and for a
             baseline-relative rule (the default minor_exposure is one) its baseline and judge

The naive sweep (20 full backtests, one per candidate) is shown as 20 x backtest; pass
``--naive`` to also run it for real once. Times are wall-clock medians in this process.

Usage (from the repository root)::

    .venv/bin/python benchmarks/tune_sweep.py --duration 4h --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from signals.durations import parse_duration  # noqa: E402
from streams.backtest.replay import run_backtest  # noqa: E402
from streams.backtest.tune import auto_levels, collect_series, sweep  # noqa: E402
from streams.config_files import load_config  # noqa: E402
from streams.sources.simulator import Simulator, schedule  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def history(duration_s: int) -> Path:
    path = DATA / f"tune-sim-{duration_s}s-seed7.jsonl"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        incidents = schedule(START + dt.timedelta(hours=1), 8)
        sim = Simulator(start=START, seed=7, incidents=incidents)
        tmp = path.with_suffix(".part")
        with tmp.open("wb") as out:
            for _, raw in sim.lines(duration_s):
                out.write(raw + b"\n")
        tmp.rename(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", default="4h", help="event time of the history (default 4h)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--area", default="youth_safety")
    ap.add_argument("--signal", default="minor_exposure")
    ap.add_argument("--naive", action="store_true", help="also run 20 full backtests once")
    args = ap.parse_args()
    config = load_config()
    rule = config.rule(args.area, args.signal)
    assert rule is not None, f"no rule for {args.signal} in {args.area}"
    path = history(parse_duration(args.duration))
    lines = sum(1 for _ in path.open("rb"))
    fors = [rule.for_s, 0 if rule.for_s else 120]
    times: dict[str, list[float]] = {"backtest": [], "sweep": [], "replays": []}
    count = 0
    def backtest() -> None:
        t = time.perf_counter()
        run_backtest(config, path, progress=False)
        times["backtest"].append(time.perf_counter() - t)

    def tune() -> int:
        t = time.perf_counter()
        series = collect_series(config, path, args.area, args.signal, progress=False)
        levels = auto_levels(series, rule, "critical", 11)[:10]
        t_replay = time.perf_counter()
        candidates = sweep(series, rule, "critical", levels, fors, [])
        done = time.perf_counter()
        times["sweep"].append(done - t)
        times["replays"].append(done - t_replay)
        return len(candidates)

    for i in range(args.repeat):
        # Alternate which goes first, so a warm-up or a busy neighbour favours neither.
        if i % 2:
            count = tune()
            backtest()
        else:
            backtest()
            count = tune()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"history: {lines:,} lines, {args.duration} of event time; rule {args.area} "
          f"{args.signal}; {count} candidates; median of {args.repeat} (wall clock)\n")
    print("| step | seconds | vs one backtest |\n|---|---:|---:|")
    print(f"| one backtest | {med['backtest']:.2f} | 1.00x |")
    print(f"| sweep of {count} (one replay + {count} candidate replays) | {med['sweep']:.2f} "
          f"| {med['sweep'] / med['backtest']:.2f}x |")
    print(f"| of which the {count} candidate replays | {med['replays']:.3f} | "
          f"{med['replays'] / med['backtest']:.3f}x |")
    print(f"| naive: {count} full backtests (estimate {count} x backtest) | "
          f"{count * med['backtest']:.1f} | {count:.2f}x |")
    if args.naive:
        t = time.perf_counter()
        for _ in range(count):
            run_backtest(config, path, progress=False)
        naive = time.perf_counter() - t
        print(f"| naive: {count} full backtests (run once) | {naive:.1f} | "
              f"{naive / med['backtest']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
