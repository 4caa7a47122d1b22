"""Load held: two `harmwatch worker`s under a steady producer for minutes, on one machine
with the broker and the producer (results in docs/chaos.md).

    .venv/bin/python benchmarks/load_held.py [--ramp 5000,10000,15000,20000] [--hold-s 600]

1. ramp: the producer steps through ``--ramp`` rates, ``--step-s`` seconds each; a step is
   *sustained* when the producer reached 95 % of it, the workers' lag at the end of the
   step is below one second of input, and p99 produce -> /metrics is <= 1 s;
2. hold: ``--hold-s`` seconds at ``--hold-rate`` (default: the highest sustained step).

The producers are separate processes (``benchmarks/load_producer.py``): the simulator's
traffic (``streams.sources.simulator``, no duplicates, a fresh seed per producer and
phase), generated and routed before the phase starts, then sent as aiokafka record batches;
each writes (monotonic time, messages handed over) every 500 messages. Both workers'
``/metrics`` are scraped in parallel every ``--scrape-s``; the latency of message i is the
end of the first scrape at which the two together have counted i events, minus the time
message i was handed over: an upper bound, which includes the scrape's own duration
(printed as "scrape p50/p99"). Every 10 s: lag (sum of ``harmwatch_consumer_lag``), RSS and
CPU % of each process from /proc, and the load average, printed as one line. After each
phase: how late the workers' event loops ran their timers (Faust logs "woke up too late,
with a drift of"): a loop that is blocked, or not scheduled, delays every message by that.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TICK = os.sysconf("SC_CLK_TCK")


def _counted(port: int) -> float | None:
    """Events counted by the worker on ``port`` (outcome counted), None if not serving."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    total = 0.0
    lag = 0.0
    for line in text.splitlines():
        if line.startswith("harmwatch_events_total{") and 'outcome="counted"' in line:
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("harmwatch_consumer_lag{"):
            lag += float(line.rsplit(" ", 1)[1])
    _LAG[port] = lag
    return total


_LAG: dict[int, float] = {}


def _outcome(port: int, outcome: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("harmwatch_events_total{") and f'outcome="{outcome}"' in line)


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of ``pid`` and its children threads, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / TICK
        rss = next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text()
                   .splitlines() if ln.startswith("VmRSS:")) / 1024
        return cpu, rss
    except (OSError, StopIteration, IndexError):
        return 0.0, 0.0


def _latencies(marks: list[tuple[float, int]], scrapes: list[tuple[float, float]],
               lo: float, hi: float) -> list[float]:
    out = []
    j = 0
    for sent_at, i in marks:
        if not lo <= sent_at < hi:
            continue
        while j < len(scrapes) and (scrapes[j][1] < i or scrapes[j][0] < sent_at):
            j += 1
        if j == len(scrapes):
            break
        out.append(scrapes[j][0] - sent_at)
    return sorted(out)


def _pct(xs: list[float], q: float) -> float:
    return xs[max(0, int(len(xs) * q) - 1)] if xs else float("nan")


def _drifts(logs: dict[Path, int]) -> list[float]:
    """Faust's "woke up too late, with a drift of +X" since each log's size in ``logs``."""
    out = []
    for path, start in logs.items():
        with path.open("rb") as fh:
            fh.seek(start)
            for line in fh.read().decode(errors="replace").splitlines():
                if "woke up too late, with a drift of +" in line:
                    out.append(float(line.split("drift of +", 1)[1].split()[0]))
    return out


def _merge_marks(each: list[list[tuple[float, int]]]) -> list[tuple[float, int]]:
    """One (time, messages sent by all producers so far) series from one per producer."""
    sent = [0] * len(each)
    out = []
    for t, k, i in sorted((t, k, i) for k, marks in enumerate(each) for t, i in marks):
        sent[k] = i
        out.append((t, sum(sent)))
    return out


def _read_marks(path: Path) -> list[tuple[float, int]]:
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((float(parts[0]), int(parts[1])))
    return out


def run_phase(name: str, schedule: list[tuple[float, float]], ctx: dict[str, Any],
              args: argparse.Namespace) -> list[dict[str, Any]]:
    """Run the producer over ``schedule``; one result per schedule step."""
    # n producers, each at 1/n of the rate with its own simulator seed: ids carry the seed,
    # and a seed used twice would send the ids of an earlier phase again (duplicates).
    n = args.producers
    share = [(rate / n, seconds) for rate, seconds in schedule]
    paths = [ctx["tmp"] / f"marks-{name}-{k}.txt" for k in range(n)]
    speed = args.event_speed
    # Each phase's event time starts where the previous one's ended (plus the lateness and
    # a margin): with --event-speed above 1 a phase started at "now - 1 day" again would be
    # behind the workers' watermark and counted late.
    next_start = ctx["event_start"] + sum(s for _, s in schedule) * speed + 300
    prods = [subprocess.Popen([sys.executable, __file__, "--produce", ctx["broker"],
                               ctx["prefix"], json.dumps(share), str(paths[k]),
                               str(max(rate for rate, _ in share) / 25 / speed),
                               str(ctx["seeds"].pop()), str(ctx["partitions"]),
                               str(ctx["event_start"])],
                              cwd=ctx["repo"]) for k in range(n)]
    # The simulator's lines are generated and routed before the clock starts (the
    # producers' CPU figures below are the sending only).
    gen_t = time.monotonic()
    while not all(path.with_suffix(".ready").exists() for path in paths):
        if any(p.poll() is not None for p in prods):
            raise RuntimeError("a producer exited while generating")
        time.sleep(0.2)
    print(f"{name}: {n} producer(s) generated their lines in "
          f"{time.monotonic() - gen_t:.0f} s", flush=True)
    for path in paths:
        path.with_suffix(".go").write_text("go\n")
    ctx["event_start"] = next_start
    ports = ctx["ports"]
    pids = {"broker": ctx["broker_pid"], **{f"producer{k + 1}": p.pid for k, p in enumerate(prods)},
            **{f"worker{k}": p for k, p in enumerate(ctx["worker_pids"], 1)}}
    scrapes: list[tuple[float, float]] = []
    samples: list[dict[str, Any]] = []
    stop = threading.Event()
    base = sum(_counted(p) or 0.0 for p in ports)

    took: list[float] = []  # seconds per scrape of both workers (in parallel)
    pool = ThreadPoolExecutor(len(ports))

    def scrape() -> None:
        while not stop.is_set():
            began = time.monotonic()
            got = list(pool.map(_counted, ports))
            if all(g is not None for g in got):
                done = time.monotonic()
                scrapes.append((done, sum(g or 0.0 for g in got) - base))
                took.append(done - began)
            time.sleep(args.scrape_s)

    logs = {w: w.stat().st_size if w.exists() else 0 for w in ctx["worker_logs"]}
    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    t0 = time.monotonic()
    last = {n: _proc(p) for n, p in pids.items()}
    last_t = t0
    while any(p.poll() is None for p in prods):
        time.sleep(10 - (time.monotonic() - t0) % 10)
        now = time.monotonic()
        cur = {n: _proc(p) for n, p in pids.items()}
        sample = {"t": round(now - t0), "lag": sum(_LAG.values()),
                  "load1": os.getloadavg()[0],
                  "cpu_pct": {n: round(100 * (cur[n][0] - last[n][0]) / (now - last_t))
                              for n in pids if cur[n][1] > 0},  # RSS 0: it has exited
                  "rss_mib": {n: round(cur[n][1]) for n in pids}}
        samples.append(sample)
        last, last_t = cur, now
        print(f"{name} t={sample['t']:4d}s lag={sample['lag']:>9,.0f} "
              f"load={sample['load1']:.1f} cpu%={sample['cpu_pct']} "
              f"rss={sample['rss_mib']}", flush=True)
    time.sleep(3)
    stop.set()
    thread.join()
    print(f"{name}: outcomes so far (both workers) " + str({o: sum(_outcome(p, o) for p in ports)
                                                          for o in ("counted", "duplicate",
                                                                    "late")}), flush=True)
    acks = sorted(float(x) for path in paths if path.with_suffix(".acks").exists()
                  for x in path.with_suffix(".acks").read_text().split())
    print(f"{name}: producer batch open -> broker ack p50 {_pct(acks, 0.5):.3f}s "
          f"p99 {_pct(acks, 0.99):.3f}s ({len(acks):,} batches)", flush=True)
    drift = sorted(_drifts(logs))
    print(f"{name}: worker timers late {len(drift)} times, drift p50 {_pct(drift, 0.5):.2f}s "
          f"p90 {_pct(drift, 0.9):.2f}s max {max(drift, default=0.0):.2f}s", flush=True)
    marks = _merge_marks([_read_marks(path) for path in paths])
    results = []
    begin = marks[0][0] if marks else t0
    for rate, seconds in schedule:
        end = begin + seconds
        inside = [m for m in marks if begin <= m[0] < end]
        sent = (inside[-1][1] - inside[0][1]) if len(inside) > 1 else 0
        achieved = sent / (inside[-1][0] - inside[0][0]) if len(inside) > 1 else 0.0
        lat = _latencies(marks, scrapes, begin + min(10.0, seconds / 4), end)
        step_samples = [s for s in samples if begin - t0 <= s["t"] <= end - t0 + 5]
        lag_end = step_samples[-1]["lag"] if step_samples else float("nan")
        results.append({"phase": name, "rate": rate, "seconds": seconds,
                        "achieved": round(achieved), "p50_s": round(_pct(lat, 0.5), 3),
                        "p99_s": round(_pct(lat, 0.99), 3),
                        "max_s": round(lat[-1], 3) if lat else None,
                        "lag_end": lag_end,
                        "timer_drift_p50_s": round(_pct(drift, 0.5), 3),
                        "timer_drift_max_s": max(drift, default=0.0),
                        "scrape_p50_s": round(_pct(sorted(took), 0.5), 3),
                        "scrape_p99_s": round(_pct(sorted(took), 0.99), 3),
                        "lag_max": max((s["lag"] for s in step_samples), default=None),
                        "samples": step_samples})
        begin = end
    return results


def sustained(r: dict[str, Any]) -> bool:
    return bool(r["achieved"] >= 0.95 * r["rate"] and r["lag_end"] < r["rate"]
                and r["p99_s"] <= 1.0)


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none (the text then says what happens)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _run_under(workers: list[Any], script: str) -> None:
    """Start each worker through the wrapper ``benchmarks/<script>`` (tracing, probing)."""
    for w in workers:
        w.command = [sys.executable, str(Path(__file__).with_name(script)), "worker"]
        w.extra = ("--audit-log", str(w.audit_log), "--episodes-log", str(w.episodes_log))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--produce":
        from benchmarks.load_producer import run

        broker, prefix, schedule, marks, scale, seed, partitions, start = sys.argv[2:10]
        run(broker, prefix, [tuple(x) for x in json.loads(schedule)], Path(marks),
            float(scale), int(seed), int(partitions), float(start))
        return 0
    p = argparse.ArgumentParser(
        description="Two harmwatch workers under a steady producer, broker and producer on "
                    "the same machine: a rate ramp to find the saturation point, then a "
                    "long hold with p50/p99 produce->/metrics latency, lag, RSS and CPU "
                    "per process every 10 s.",
        formatter_class=DefaultsHelp)
    p.add_argument("--ramp", default="5000,10000,15000,20000",
                   help="comma-separated rates (events/s) of the ramp; empty: no ramp")
    p.add_argument("--step-s", type=float, default=40.0, help="seconds per ramp step")
    p.add_argument("--hold-rate", type=float, default=None,
                   help="rate of the hold (default: the highest sustained ramp step)")
    p.add_argument("--hold-s", type=float, default=600.0, help="seconds of the hold")
    p.add_argument("--scrape-s", type=float, default=0.25, help="/metrics scrape interval")
    p.add_argument("--producers", type=int, default=1,
                   help="producer processes sharing the rate, each with its own seed")
    p.add_argument("--event-speed", type=float, default=1.0,
                   help="event time runs this many times faster than the wall clock (the "
                        "simulator's scale divided by it): 10 fills the 1 h baselines in 6 "
                        "minutes")
    p.add_argument("--partitions", type=int, default=6, help="partitions per source topic")
    p.add_argument("--trace", default=None, metavar="DIR",
                   help="run the workers under tracemalloc (benchmarks/traced_worker.py), "
                        "heap growth by allocation site every --trace-every-s into DIR")
    p.add_argument("--trace-every-s", type=float, default=60.0, help="see --trace")
    p.add_argument("--probe", default=None, metavar="DIR",
                   help="run the workers under benchmarks/malloc_probe.py: glibc's "
                        "malloc_info per arena, smaps by kind, Python blocks and CPU per "
                        "thread every --probe-every-s, as JSON lines into DIR")
    p.add_argument("--probe-every-s", type=float, default=30.0, help="see --probe")
    p.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                   help="set this in both workers' environment (e.g. HARMWATCH_KAFKA_CONFIG="
                        "FILE for another kafka.yaml); may be repeated")
    p.add_argument("--worker2-env", action="append", default=[], metavar="NAME=VALUE",
                   help="set this in the second worker's environment only (a side-by-side "
                        "comparison, e.g. MALLOC_ARENA_MAX=2); may be repeated")
    p.add_argument("--out", default=None, help="write all figures here as JSON")
    args = p.parse_args()

    from streams.dev.kafka_broker import LocalKafka, free_port
    from streams.kafka.settings import KafkaSettings
    from streams.kafka.topics import create_topics
    from tests.streaming.kafka_harness import Env, Worker, wait_until

    tmp = Path(tempfile.mkdtemp(prefix="hw-load-"))
    kafka = LocalKafka(tmp / "kafka", port=free_port(), controller_port=free_port())
    kafka.start(timeout=180)
    env = Env(kafka.bootstrap, tmp, partitions=args.partitions)
    create_topics(KafkaSettings(broker=kafka.bootstrap, topic_prefix=env.prefix,
                                app_id=env.app_id))
    for setting in args.worker_env:
        name, _, value = setting.partition("=")
        env.env[name] = value
    workers = [Worker(env, f"w{i}") for i in range(2)]
    if args.trace:
        env.env.update(HW_TRACE_DIR=str(Path(args.trace).resolve()),
                       HW_TRACE_EVERY_S=str(args.trace_every_s))
        _run_under(workers, "traced_worker.py")
    if args.probe:
        env.env.update(HW_PROBE_DIR=str(Path(args.probe).resolve()),
                       HW_PROBE_EVERY_S=str(args.probe_every_s))
        _run_under(workers, "malloc_probe.py")
    if args.worker2_env:
        # One process differs in its environment only (e.g. MALLOC_ARENA_MAX=2): the two
        # workers share the machine's load, so their RSS compares side by side.
        second = copy.copy(env)
        second.env = dict(env.env)
        for setting in args.worker2_env:
            name, _, value = setting.partition("=")
            second.env[name] = value
        workers[1].env = second
    for w in workers:
        w.start()
    results: list[dict[str, Any]] = []
    try:
        wait_until(lambda: all(w.metrics() for w in workers), 180, "both workers' /metrics")
        time.sleep(8)  # group join and assignment settle
        ctx = {"tmp": tmp, "broker": kafka.bootstrap, "prefix": env.prefix,
               "repo": str(Path(__file__).resolve().parents[1]),
               "ports": [w.port for w in workers], "broker_pid": kafka.pid(),
               "partitions": args.partitions,
               "worker_logs": [w.stderr_path for w in workers],
               "event_start": time.time() - 86400,
               "worker_pids": [w.proc.pid for w in workers if w.proc is not None],
               "seeds": list(range(1000, 5, -1))}
        ramp = [float(x) for x in args.ramp.split(",") if x.strip()]
        if ramp:
            results += run_phase("ramp", [(r, args.step_s) for r in ramp], ctx, args)
            for r in results:
                print(f"ramp {r['rate']:>7,.0f}/s: achieved {r['achieved']:>7,}/s, "
                      f"p50 {r['p50_s']}s p99 {r['p99_s']}s (scrape p50 {r['scrape_p50_s']}s p99 "
                      f"{r['scrape_p99_s']}s), lag at end {r['lag_end']:,.0f}"
                      f" -> {'sustained' if sustained(r) else 'NOT sustained'}", flush=True)
        ok = [r["rate"] for r in results if sustained(r)]
        hold = args.hold_rate or (max(ok) if ok else min(ramp or [5000.0]))
        if args.hold_s > 0:
            time.sleep(20)  # let any ramp backlog drain before the hold starts
            held = run_phase("hold", [(hold, args.hold_s)], ctx, args)
            results += held
            h = held[0]
            rss = [s["rss_mib"] for s in h["samples"]]
            print(f"hold {hold:,.0f}/s for {args.hold_s:.0f}s: achieved {h['achieved']:,}/s, "
                  f"p50 {h['p50_s']}s p99 {h['p99_s']}s max {h['max_s']}s (scrape p50 "
                  f"{h['scrape_p50_s']}s p99 {h['scrape_p99_s']}s); lag max "
                  f"{h['lag_max']:,.0f} end {h['lag_end']:,.0f}; RSS first {rss[0] if rss else {}}"
                  f" last {rss[-1] if rss else {}}", flush=True)
    finally:
        for w in workers:
            w.stop()
        kafka.stop()
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
