"""Backtest throughput and memory with the emergent-threat detectors on and off.

Throughput: one simulator file with background tag traffic (a long tail of tags on every
event, advertisers on ads, the three threat incidents) is replayed through the backtest's
loop (``signals.lines.decode_chunks`` -> ``Engine.ingest.ingest_batch``, rows drained as
they come, as ``streams/backtest/replay.py`` does) once with ``Engine(config)`` ("off")
and once with ``Engine(config, load_threats())`` ("on"). Each run is a fresh subprocess
pinned to one CPU, modes interleaved per repetition; the parent prints medians and the
on/off ratio.

Memory (``--memory``): a file where every event carries a tag never used before (1M
distinct tags by default, spread over 4 h of event time and every area), replayed with the
detectors off, emerging tags alone and all on; peak RSS (VmHWM) of each child. The bound
it is checked against is stated in docs/threats.md.

Rates are events per second of the child's CPU time (``time.process_time``), not wall
time: the machine is shared, and CPU time is what the detectors cost.

Usage::

    .venv/bin/python benchmarks/emerging_tags.py --hours 4 --repeat 3 --memory
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
MODES = ("off", "emerging", "on")  # on: all three detectors


def _status(field: str) -> int:
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith(field + ":"):
            return int(row.split()[1])
    return -1


def sim_file(hours: float, seed: int) -> Path:
    path = DATA / f"threats-sim-{hours:g}h-seed{seed}.jsonl"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT))
    from streams.sources.simulator import Simulator
    from streams.sources.threat_traffic import ThreatIncident, ThreatTraffic

    h = dt.timedelta(hours=1)
    planted = [ThreatIncident("emerging_tag", START + 0.6 * hours * h, 1800),
               ThreatIncident("advertiser_concentration", START + 0.7 * hours * h, 1800),
               ThreatIncident("drop", START + 0.8 * hours * h, 1800)]
    sim = Simulator(start=START, seed=seed, threats=ThreatTraffic(seed=seed, incidents=planted))
    DATA.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for _, line in sim.lines(int(hours * 3600)):
            out.write(line + b"\n")
    tmp.rename(path)
    return path


def distinct_file(tags: int, hours: float) -> Path:
    """``tags`` events, each with its own never-repeated tag, over ``hours`` and 13 areas."""
    path = DATA / f"threats-distinct-{tags}-{hours:g}h.jsonl"
    if path.exists():
        return path
    areas = ["youth_safety", "adult_nudity", "sexual_exposure", "body_image", "user_privacy",
             "scams_fraud", "hate_speech", "harassment", "dangerous_acts", "regulated_goods",
             "misinformation", "violent_extremism", "spam_misc"]
    span = hours * 3600
    t0 = START.timestamp()
    DATA.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for i in range(tags):
            at = dt.datetime.fromtimestamp(t0 + span * i / tags, dt.UTC)
            kind = "report" if i % 2 else "decision"
            event: dict[str, object] = {
                "event_id": f"u{i}", "type": kind,
                "occurred_at": at.isoformat(timespec="milliseconds")[:-6] + "Z",
                "policy_area": areas[i % len(areas)], "tags": [f"unique-{i}"]}
            if kind == "report":
                event["reporter"] = "user"
            else:
                event.update(verdict="violating", detection="automated")
            out.write(orjson.dumps(event) + b"\n")
    tmp.rename(path)
    return path


def pin(cpu: int) -> None:
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass


def replay(engine: Any, lines: Iterable[bytes]) -> int:
    """The backtest's loop (``streams/backtest/replay.py``) over ``lines``: valid events
    into the engine in lists of 256, rows drained as they come. Returns the events."""
    from signals.lines import decode_chunks

    rows = engine.evaluator.rows
    events = 0
    for batch in decode_chunks(lines, lambda *_: None, 256):
        engine.ingest.ingest_batch(batch)
        events += len(batch)
        if rows:
            engine.evaluator.drain_rows()
    return events


def child(mode: str, path: Path, cpu: int) -> None:
    pin(cpu)
    sys.path.insert(0, str(ROOT))
    engine: Any = engine_for(mode)
    base_kib = _status("VmRSS")
    with path.open("rb", buffering=1 << 20) as handle:
        began = time.process_time()
        events = replay(engine, handle)
        engine.flush()
        elapsed = time.process_time() - began
    detector = engine.threats
    print(json.dumps({"mode": mode, "events": events, "rate": events / elapsed,
                      "base_kib": base_kib, "peak_kib": _status("VmHWM"),
                      "threat_episodes": len(detector.episodes) if detector else 0,
                      "overflow": detector.overflow if detector else 0}))


def engine_for(mode: str) -> object:
    """The engine of a mode: "off" (no detectors), "emerging" (emerging tags alone, the
    issue's 0.8x), "on" (all three detectors)."""
    from signals.engine import Engine
    from streams.config_files import load_config, load_threats

    config = load_config()
    threats = load_threats(config=config)
    if mode == "emerging":
        threats = threats.model_copy(update={
            "concentration": threats.concentration.model_copy(update={"enabled": False}),
            "drops": threats.drops.model_copy(update={"enabled": False})})
    return Engine(config, None if mode == "off" else threats)


def _run(mode: str, path: Path, cpu: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--file", str(path),
                          "--cpu", str(cpu)], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _report_interleaved(path: Path, cpu: int, slices: int) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.interleaved_modes import run

    print(f"interleaved: {slices} slices, one process per mode, in turn (thread CPU time)")
    print("| pair | off events/s | mode events/s | mode/off, whole file | per slice median "
          "(quartiles) | threat episodes |")
    print("|---|---|---|---|---|---|")
    # Each ratio from its own pair of processes: a third process in the rotation would
    # share the CPU's caches between the two compared.
    for mode in ("emerging", "on"):
        got = run(path, cpu, slices, ("off", mode))
        off, on = got["off"], got[mode]
        ratios = sorted(o / m for o, m in zip(off["per_slice"], on["per_slice"], strict=True)
                        if m > 0)
        q = statistics.quantiles(ratios, n=4)
        print(f"| off + {mode} | {off['events'] / off['spent']:,.0f} | "
              f"{on['events'] / on['spent']:,.0f} | {off['spent'] / on['spent']:.3f} | "
              f"{statistics.median(ratios):.3f} ({q[0]:.3f}-{q[2]:.3f}) | {on['episodes']} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=4.0, help="event time simulated")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0, help="CPU the children are pinned to")
    parser.add_argument("--memory", action="store_true", help="also the 1M-distinct-tag run")
    parser.add_argument("--distinct", type=int, default=1_000_000)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--interleaved", type=int, metavar="SLICES", default=0,
                        help="instead: one process per mode, the file cut into SLICES "
                             "replayed by each in turn (steadier on a shared machine)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.file, args.cpu)
        return
    path = sim_file(args.hours, args.seed)
    print(f"file: {path.name}, {sum(1 for _ in path.open('rb')):,} lines", flush=True)
    if args.interleaved:
        _report_interleaved(path, args.cpu, args.interleaved)
        return
    results: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for i in range(args.repeat):
        for mode in MODES if i % 2 == 0 else MODES[::-1]:
            results[mode].append(_run(mode, path, args.cpu))
            print(f"  run {i + 1} {mode}: {results[mode][-1]['rate']:,.0f} events/s",
                  file=sys.stderr, flush=True)
    med = {m: statistics.median(r["rate"] for r in rs) for m, rs in results.items()}
    print("| mode | events/s (median) | peak RSS MiB | threat episodes |")
    print("|---|---|---|---|")
    for mode in MODES:
        peak = max(r["peak_kib"] for r in results[mode]) / 1024
        print(f"| {mode} | {med[mode]:,.0f} | {peak:.0f} | "
              f"{int(results[mode][0]['threat_episodes'])} |")
    print(f"emerging/off throughput ratio: {med['emerging'] / med['off']:.3f}")
    print(f"on (all three)/off throughput ratio: {med['on'] / med['off']:.3f}")
    # Each repetition runs the modes back to back, so their ratio shares the machine's
    # state of that moment; the median of those is steadier on a shared box.
    for mode in ("emerging", "on"):
        paired = [r["rate"] / o["rate"] for r, o in zip(results[mode], results["off"],
                                                         strict=True)]
        print(f"{mode}/off, median of the {len(paired)} paired ratios: "
              f"{statistics.median(paired):.3f} (each: "
              f"{', '.join(f'{x:.3f}' for x in paired)})")
    if args.memory:
        dpath = distinct_file(args.distinct, 4.0)
        print(f"\nmemory: {dpath.name} ({args.distinct:,} distinct tags)")
        print("| mode | peak RSS MiB | RSS before replay MiB | overflow |")
        print("|---|---|---|---|")
        for mode in MODES:
            r = _run(mode, dpath, args.cpu)
            print(f"| {mode} | {r['peak_kib'] / 1024:.0f} | {r['base_kib'] / 1024:.0f} | "
                  f"{int(r['overflow'])} |")


if __name__ == "__main__":
    main()
