"""Backtest throughput next to the raw JSON-decoding ceiling, on one pinned core.

Generates a simulator file of exactly ``--events`` lines once, then, for each repetition,
runs every measurement in a fresh subprocess pinned to one CPU (interleaved, so drift in
the machine hits every mode alike):

  read        read the lines only (the floor of any file driver)
  orjson      read the lines and ``orjson.loads`` each (the raw ceiling of the issue)
  msgspec     ``signals.events.decode_event`` on each line (typed, validated decode)
  backtest    ``streams.backtest.replay.run_backtest(config, file, progress=False)``
  backtest+out  the same with ``signals_out`` set (as ``harmwatch backtest --signals-out``)

Each child reports its event rate (timed around the loop only: interpreter start, imports
and config loading are excluded) and its peak RSS (``VmHWM`` from /proc/self/status, which
is per process). The parent prints medians and the backtest/orjson ratio as markdown.

``--memory`` adds the memory-scaling runs: peak RSS of the backtest for 1M events and for
5M events (a) at the same event rate over a 5x longer span of event time, which is what
"memory must not grow with the number of events" means, and (b) at 5x the rate over the
same span, which grows the per-window state (ids awaiting dedupe, latencies per pane) by
design.

``--against DIR`` adds another checkout's backtest (for example the commit before a change,
exported with ``git archive`` and built with its own ``scripts/build-native.sh`` when the
compiled engine is compared), as mode ``backtest@other``, interleaved with this checkout's in
the same repetitions; the report gives the ratio of the two. The children run this file's
code with the other tree first on ``sys.path``, so only its engine differs.

Usage (from the repository root)::

    .venv/bin/python benchmarks/backtest_vs_orjson.py --events 1000000 --repeat 3 \
        --memory --keep --write-doc docs/performance.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
START = "2026-11-24T08:00:00+00:00"
SEED = 7
# Lines the simulator writes per minute of event time at --scale 1 (default config,
# 13 areas, 0.1 % duplicates), measured over 2h: 111,853 lines. Used to pick a scale.
LINES_PER_MIN_AT_SCALE_1 = 932.0
MODES = ("read", "orjson", "msgspec", "backtest", "backtest+out")


# --- generation ---------------------------------------------------------------------------


def data_file(events: int, duration_s: int, scale: float) -> Path:
    return DATA / f"sim-{events}-d{duration_s}-x{scale:g}-seed{SEED}.jsonl"


def scale_for(events: int, duration_s: int) -> float:
    """A scale that makes the simulator write a little more than ``events`` lines."""
    raw = events / (LINES_PER_MIN_AT_SCALE_1 * duration_s / 60.0) * 1.03
    return math.ceil(raw * 10) / 10


def generate(events: int, duration_s: int, scale: float | None, keep: bool) -> Path:
    """Write exactly ``events`` simulator lines (incidents included); reuse with --keep."""
    sys.path.insert(0, str(ROOT))
    from streams.sources.simulator import Simulator, schedule

    scale = scale or scale_for(events, duration_s)
    path = data_file(events, duration_s, scale)
    if keep and path.exists():
        print(f"# reusing {path.relative_to(ROOT)}", file=sys.stderr)
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    start = dt.datetime.fromisoformat(START)
    # Incidents every 6 minutes through the whole span, like `harmwatch simulate`.
    count = max(8, (duration_s - 3600) // 360)
    sim = Simulator(start=start, seed=SEED, scale=scale,
                    incidents=schedule(start + dt.timedelta(seconds=3600), count))
    t0 = time.perf_counter()
    written = 0
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as out:
        buf: list[bytes] = []
        for _, line in sim.lines(duration_s * 4):  # more than enough: stop at `events`
            buf.append(line)
            if len(buf) >= 10000 or written + len(buf) >= events:
                take = buf[: events - written]
                out.write(b"\n".join(take) + b"\n")
                written += len(take)
                buf.clear()
                if written >= events:
                    break
    if written < events:
        tmp.unlink()
        raise SystemExit(f"simulator wrote only {written} lines; raise --scale")
    tmp.rename(path)
    took = time.perf_counter() - t0
    print(f"# generated {written:,} lines (scale {scale:g}, {duration_s}s of event time) "
          f"in {took:.1f}s -> {path.relative_to(ROOT)}", file=sys.stderr)
    return path


# --- the measurement children -------------------------------------------------------------


def _status(field: str) -> int:
    """A /proc/self/status field in KiB (VmHWM: peak RSS of this process)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


OTHER = "backtest@other"


def child(mode: str, path: Path, cpu: int, root: Path = ROOT) -> None:
    os.sched_setaffinity(0, {cpu})
    sys.path.insert(0, str(root))
    import orjson

    from signals.events import decode_event
    from streams.backtest.replay import run_backtest
    from streams.config_files import load_config

    config = load_config(None)
    base_kib = _status("VmRSS")  # after imports and config: the fixed cost
    extra: dict[str, object] = {}
    t0 = time.perf_counter()
    c0 = time.process_time()
    n = 0
    if mode == "read":
        with path.open("rb") as f:
            for _ in f:
                n += 1
    elif mode == "orjson":
        loads = orjson.loads
        with path.open("rb") as f:
            for line in f:
                loads(line)
                n += 1
    elif mode == "msgspec":
        with path.open("rb") as f:
            for line in f:
                decode_event(line.rstrip(b"\r\n"))
                n += 1
    elif mode in ("backtest", "backtest+out", OTHER):
        out = None
        if mode == "backtest+out":
            fd, name = tempfile.mkstemp(prefix="signals-", suffix=".jsonl", dir=DATA)
            os.close(fd)
            out = Path(name)
        try:
            pipeline = run_backtest(config, path, out, None, progress=False)
            elapsed = time.perf_counter() - t0
            cpu_s = time.process_time() - c0
            if out is not None:
                with out.open("rb") as f:
                    extra["signal_rows"] = sum(1 for _ in f)
        finally:
            if out is not None:
                out.unlink()
        engine = pipeline.engine
        ingest = engine.ingest
        n = ingest.counted + ingest.duplicates + ingest.late + pipeline.invalid_total
        extra.update(counted=ingest.counted, duplicates=ingest.duplicates, late=ingest.late,
                     invalid=pipeline.invalid_total, episodes=len(engine.evaluator.episodes),
                     remembered_ids=ingest.remembered_ids,
                     transitions=len(engine.evaluator.transitions), **_state_sizes(engine))
    else:
        raise SystemExit(f"unknown mode {mode}")
    if not mode.startswith("backtest"):  # (the backtest timed the replay, not the counting)
        elapsed = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
    print(json.dumps({"mode": mode, "events": n, "seconds": elapsed, "rate": n / elapsed,
                      "cpu_seconds": cpu_s, "rate_cpu": n / cpu_s,
                      "base_kib": base_kib, "peak_kib": _status("VmHWM"), **extra}))


def _state_sizes(engine: object) -> dict[str, object]:
    """Sizes of the engine's per-window state at the end (private; the engine changes)."""
    out: dict[str, object] = {}
    for label, owner, attr in (("open_panes", "ingest", "_panes"),
                               ("closed_panes", "evaluator", "_closed")):
        holder = getattr(engine, owner, engine)
        value = getattr(holder, attr, getattr(engine, attr, None))
        out[label] = len(value) if value is not None else "?"
    return out


def run_child(mode: str, path: Path, cpu: int, other: Path | None = None) -> dict[str, object]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--file", str(path),
           "--cpu", str(cpu)]
    if mode == OTHER:
        assert other is not None
        cmd += ["--root", str(other)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{proc.stderr}")
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- reporting -----------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
            mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "signals", "streams"],
                           capture_output=True, text=True, cwd=ROOT, check=False).stdout.strip()
    import msgspec
    import orjson

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "orjson": orjson.__version__,
        "msgspec": msgspec.__version__,
        "load average (start of report)": open("/proc/loadavg").read().split(" ", 3)[0],
        "commit": commit + (" (signals/ or streams/ modified)" if dirty else ""),
    }


def mib(kib: object) -> str:
    return f"{int(kib) / 1024:.0f}"  # type: ignore[call-overload]


def throughput_table(runs: dict[str, list[dict[str, object]]]) -> tuple[str, dict[str, float]]:
    med = {m: statistics.median(float(r["rate"]) for r in rs) for m, rs in runs.items()}  # type: ignore[arg-type]
    cpu = {m: statistics.median(float(r["rate_cpu"]) for r in rs) for m, rs in runs.items()}  # type: ignore[arg-type]
    ceiling, cpu_ceiling = med.get("orjson", float("nan")), cpu.get("orjson", float("nan"))
    lines = ["| mode | events/s wall (median) | each run | x orjson | events/s CPU time "
             "(median) | x orjson (CPU) | peak RSS MiB | RSS after imports MiB |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for mode, rs in runs.items():
        each = ", ".join(f"{float(r['rate']) / 1000:.0f}k" for r in rs)  # type: ignore[arg-type]
        peak = max(int(r["peak_kib"]) for r in rs)  # type: ignore[call-overload]
        base = max(int(r["base_kib"]) for r in rs)  # type: ignore[call-overload]
        lines.append(f"| {mode} | {med[mode]:,.0f} | {each} | {med[mode] / ceiling:.2f} | "
                     f"{cpu[mode]:,.0f} | {cpu[mode] / cpu_ceiling:.2f} | "
                     f"{mib(peak)} | {mib(base)} |")
    med.update({f"{m}/cpu": v for m, v in cpu.items()})
    return "\n".join(lines), med


def against_line(med: dict[str, float], other: Path) -> str:
    """This checkout's backtest throughput over the other's, by wall and by CPU time."""
    wall = med["backtest"] / med[OTHER]
    cpu = med["backtest/cpu"] / med[OTHER + "/cpu"]
    return (f"Against `{other}` (mode {OTHER}): this checkout's backtest throughput is "
            f"{wall:.3f}x of the other's by wall time and {cpu:.3f}x by CPU time (medians, "
            "the same file, interleaved).")


def memory_table(rows: list[tuple[str, dict[str, object]]]) -> str:
    lines = ["| run | events | event-time span | peak RSS MiB | after imports MiB | "
             "events/s | remembered ids at end | closed panes kept |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for label, r in rows:
        lines.append(f"| {label} | {int(r['events']):,} | {r['span']} | {mib(r['peak_kib'])} | "  # type: ignore[call-overload]
                     f"{mib(r['base_kib'])} | {float(r['rate']):,.0f} | "  # type: ignore[arg-type]
                     f"{int(r['remembered_ids']):,} | {r['closed_panes']} |")  # type: ignore[call-overload]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="lines to replay (default 1M)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (default 3)")
    p.add_argument("--keep", action="store_true",
                   help=f"keep generated files in {DATA.relative_to(ROOT)}/ and reuse them")
    p.add_argument("--duration", default=7200, type=int,
                   help="event-time span of the main file in seconds (default 7200)")
    p.add_argument("--scale", type=float, help="simulator scale (default: fit --events)")
    p.add_argument("--cpu", type=int, help="CPU to pin children to (default: last allowed)")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of modes")
    p.add_argument("--memory", action="store_true",
                   help="also measure backtest peak RSS for 1x and 5x --events")
    p.add_argument("--write-doc", type=Path, metavar="FILE",
                   help="write the markdown report to FILE (e.g. docs/performance.md)")
    p.add_argument("--against", type=Path, metavar="DIR",
                   help="another checkout whose backtest runs interleaved with this one's "
                        "(e.g. the commit before a change); the report gives the ratio")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    p.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    if args.child:
        child(args.child, args.file, cpu, args.root)
        return 0
    if args.against is not None and not (args.against / "signals" / "engine.py").exists():
        raise SystemExit(f"--against {args.against}: not a harmwatch checkout (no "
                         "signals/engine.py); export one with `git archive COMMIT | tar -x -C DIR`")

    command = "cd " + str(ROOT) + " && .venv/bin/python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])])
    began = time.perf_counter()
    made: list[Path] = []
    path = generate(args.events, args.duration, args.scale, args.keep)
    made.append(path)
    modes = [m for m in args.modes.split(",") if m]
    if args.against is not None:
        modes.append(OTHER)
    runs: dict[str, list[dict[str, object]]] = {m: [] for m in modes}
    for rep in range(args.repeat):
        for mode in modes:
            r = run_child(mode, path, cpu, args.against)
            runs[mode].append(r)
            print(f"# rep {rep + 1}/{args.repeat} {mode:13s} {float(r['rate']):>10,.0f} ev/s "  # type: ignore[arg-type]
                  f"peak {mib(r['peak_kib'])} MiB", file=sys.stderr)
    table, med = throughput_table(runs)
    first = next(r for m in modes if m.startswith("backtest") for r in runs[m])

    mem_rows: list[tuple[str, dict[str, object]]] = []
    if args.memory:
        scale = args.scale or scale_for(args.events, args.duration)
        plan = [
            (f"1x events, scale {scale:g}", args.events, args.duration, scale),
            (f"5x events, same rate (scale {scale:g})", args.events * 5, args.duration * 5,
             scale),
            (f"5x events, 5x rate (scale {scale * 5:g})", args.events * 5, args.duration,
             round(scale * 5, 1)),
        ]
        for label, n, dur, sc in plan:
            same = (n, dur, sc) == (args.events, args.duration,
                                   args.scale or scale_for(args.events, args.duration))
            f = path if same else generate(n, dur, sc, args.keep)
            made.append(f)
            r = run_child("backtest", f, cpu)
            last_ts = _last_event_hours(f)
            r["span"] = f"{last_ts:.1f} h"
            mem_rows.append((label, r))
            print(f"# memory {label}: {int(r['events']):,} events, peak "  # type: ignore[call-overload]
                  f"{mib(r['peak_kib'])} MiB", file=sys.stderr)

    if not args.keep:
        for f in made:
            f.unlink(missing_ok=True)

    took = time.perf_counter() - began
    info = machine_info()
    def verdict(suffix: str) -> str:
        bt = med.get("backtest" + suffix, 0.0)
        ratio = bt / med["orjson" + suffix] if "orjson" + suffix in med else float("nan")
        return (f"backtest {bt:,.0f} ev/s ({'meets' if bt >= 250_000 else 'misses'} >= 250k),"
                f" backtest/orjson {ratio:.2f}x ({'meets' if ratio >= 0.45 else 'misses'}"
                f" >= 0.45x)")

    goals = f"by wall time: {verdict('')}; by CPU time: {verdict('/cpu')}"
    report = [
        f"Replayed file: {args.events:,} simulator lines ({first.get('counted', '?'):,} counted, "
        f"{first.get('duplicates', '?'):,} duplicates, {first.get('late', '?')} late, "
        f"{first.get('invalid', '?')} invalid, {first.get('episodes', '?')} alert episodes), "
        f"{args.duration / 3600:g} h of event time.",
        "",
        table,
        "",
        f"Goal check: {goals}.",
    ]
    if args.against is not None and "backtest" in med:
        report += ["", against_line(med, args.against)]
    if mem_rows:
        report += ["", memory_table(mem_rows)]
    info_lines = [f"- {k}: {v}" for k, v in info.items()]
    info_lines.append(f"- children pinned to CPU {cpu}; each measurement in a fresh process; "
                      f"{args.repeat} interleaved repetitions; whole run {took:.0f}s")
    info_lines.append(f"- command: `{command}`")
    text = "\n".join(report) + "\n\n" + "\n".join(info_lines) + "\n"
    print(text)
    if args.write_doc:
        write_doc(args.write_doc, text)
    return 0


def _last_event_hours(path: Path) -> float:
    """Event-time span of a simulator file, from its first and last lines."""
    import orjson

    with path.open("rb") as f:
        first = orjson.loads(f.readline())
        f.seek(max(0, path.stat().st_size - 4096))
        last = orjson.loads(f.read().splitlines()[-1])
    a = dt.datetime.fromisoformat(first["occurred_at"])
    b = dt.datetime.fromisoformat(last["occurred_at"])
    return (b - a).total_seconds() / 3600


MARK_BEGIN = "<!-- benchmark:begin (written by benchmarks/backtest_vs_orjson.py) -->"
MARK_END = "<!-- benchmark:end -->"


def write_doc(path: Path, text: str) -> None:
    """Replace the generated block of ``path`` (between the markers), keep the prose."""
    block = f"{MARK_BEGIN}\n{text}{MARK_END}\n"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if MARK_BEGIN in old and MARK_END in old:
            head, rest = old.split(MARK_BEGIN, 1)
            tail = rest.split(MARK_END, 1)[1].lstrip("\n")
            path.write_text(head + block + ("\n" + tail if tail else ""), encoding="utf-8")
            return
        path.write_text(old.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Performance\n\n" + block, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
