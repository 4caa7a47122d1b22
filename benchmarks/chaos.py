"""Chaos run: two `harmwatch worker`s against a real Kafka 4.2.2 broker, one fault every
8-15 s, then the union of everything the workers wrote against the backtest of the logs.

    .venv/bin/python benchmarks/chaos.py --seed 7 --faults 7 --events 40000

What it does, in order (all randomness from ``--seed``, which is logged):

1. input: ``harmwatch simulate`` edited by ``benchmarks/chaos_input.py`` — appeals cut out
   for stretches longer than the idle timeout (quiet partitions), late lines, far
   duplicates; ``harmwatch backtest --partitions N`` of that file is its truth;
2. a LocalKafka broker, topics with a fresh prefix, two workers as the README starts them
   (``harmwatch worker`` + ``--signals-out``/``--episodes-out``/``--idle-after``);
3. ``harmwatch produce --rate R --final-watermark`` in the background, and meanwhile
   ``--faults`` faults (``benchmarks/chaos_faults.py``): SIGKILL of a random worker, of a
   replacement during its takeover, of both; SIGSTOP past the session timeout; a third
   worker for a while; down to one worker; SIGKILL of the broker and a restart. Every
   kind comes once before any repeats;
4. settle: the producer is done, every live worker reports lag 0 and no new row has been
   written for 20 s;
5. the truth of the logs: ``harmwatch backtest --from-kafka`` of the source topics, which
   holds what the file cannot — the watermark records the workers' idle check wrote into
   quiet partitions (an event read after one, older than the group watermark it carried,
   is late, where the file backtest may count it) and each record's timestamp. The logs
   must hold the file exactly (each distinct valid id counted or late in both, the same
   invalid lines; a producer retry may only add duplicates), and the workers must equal
   the logs;
6. compare: signal rows of *all* workers (killed ones included) united by key (area,
   market, signal, window_start, window_end) with the logs' backtest — missing, extra,
   differing and conflicting (two workers, two values) keys printed; alert episodes of the
   live workers with the backtest's; late panes; worker crashes (exits nobody asked for).
   Counters: a worker exports a partition's counts only for what a delivered snapshot
   covers, and a new owner only what no process exported before it
   (streams/kafka/exact_counts.py). The workers run with the export trace on
   (``HARMWATCH_EXPORT_TRACE``): its exports, summed over every process, must *equal* the
   backtest's counted/duplicates/late, with no stretch of any partition exported twice or
   by nobody (``benchmarks/export_overlaps.py``). The /metrics scrapes (every second, and
   just before a kill or a SIGTERM) must agree with it: each process's last scrape holds
   every export it traced before that request and none after. So the trace is what
   /metrics served, and the scrapes fall short only by what a killed process exported
   after its last one (which no Prometheus counter can show either).

Exit 0 when rows, episodes, counters and late panes match and no worker crashed more than
``--max-crashes`` times; 1 otherwise (the table is printed either way); 2 on a setup error.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.chaos_faults import FAULTS, OUTCOMES, Cluster, plan
from benchmarks.chaos_input import Truth, harden, log_truth, row_key, simulate, truth
from benchmarks.export_overlaps import TraceReport, check, load
from streams.dev.kafka_broker import LocalKafka, free_port
from streams.kafka.export_trace import ENV as TRACE
from streams.kafka.settings import KafkaSettings
from streams.kafka.topics import create_topics
from tests.streaming.kafka_harness import (
    Env,
    read_jsonl,
    sorted_episodes,
    wait_until,
)


@dataclass
class Outcome:
    """The comparison, as the issue's table has it, plus what explains a difference."""

    label: str
    faults: list[str] = field(default_factory=list)
    rows_expected: int = 0
    missing: list[tuple[Any, ...]] = field(default_factory=list)
    extra: list[tuple[Any, ...]] = field(default_factory=list)
    differing: list[tuple[Any, ...]] = field(default_factory=list)
    conflicting: list[tuple[Any, ...]] = field(default_factory=list)
    late_panes: float = 0.0
    # Snapshots written across a stall (harmwatch_snapshot_writes_stalled_total): one known
    # way to export a stretch twice without broker-side fencing.
    stalled_writes: float = 0.0
    episodes_equal: bool = False
    episodes: tuple[int, int] = (0, 0)
    counters: dict[str, tuple[float, int]] = field(default_factory=dict)  # scraped
    traced: dict[str, tuple[int, int]] = field(default_factory=dict)
    trace_overlaps: list[str] = field(default_factory=list)
    trace_gaps: list[str] = field(default_factory=list)
    # Processes whose scrapes disagree with their trace: (name, outcome, scraped, traced).
    scrape_mismatches: list[tuple[str, str, float, int]] = field(default_factory=list)
    crashes: list[tuple[str, int | None]] = field(default_factory=list)
    workers_run: int = 0
    settled: bool = False
    producer_rc: int | None = None
    seconds: float = 0.0
    samples: dict[str, list[Any]] = field(default_factory=dict)
    # The logs against the file: (counted, duplicates, late, invalid) of each backtest,
    # and the rows the logs' watermark records changed.
    logs_vs_file: dict[str, tuple[int, int]] = field(default_factory=dict)
    rows_moved_by_records: int = 0

    @property
    def logs_hold_the_file(self) -> bool:
        """Every line of the file is in the logs once (a producer retry may add a copy,
        which the dedupe counts as a duplicate): each distinct valid id is counted or late
        in both, the invalid lines are the same."""
        (lc, fc), (ld, fd), (ll, fl), (li, fi) = (self.logs_vs_file[k] for k in (
            "counted", "duplicate", "late", "invalid"))
        return lc + ll == fc + fl and li == fi and ld >= fd

    @property
    def counted_exactly(self) -> bool:
        return (bool(self.traced) and all(got == want for got, want in self.traced.values())
                and not self.trace_overlaps and not self.trace_gaps
                and not self.scrape_mismatches)

    def ok(self, max_crashes: int) -> bool:
        return (self.settled and self.producer_rc == 0 and self.logs_hold_the_file
                and not self.missing
                and not self.extra and not self.differing and not self.conflicting
                and self.late_panes == 0 and self.episodes_equal
                and len(self.crashes) <= max_crashes and self.counted_exactly)

    def table(self) -> str:
        head = ("| phase | what | rows expected | missing | extra | differing | late panes |\n"
                "|---|---|---:|---:|---:|---:|---:|")
        what = f"{len(self.faults)} faults, {self.workers_run} worker processes"
        return (f"{head}\n| {self.label} | {what} | {self.rows_expected:,} | "
                f"{len(self.missing):,} | {len(self.extra):,} | "
                f"{len(self.differing):,} | {self.late_panes:,.0f} |")


def logs_against_file(t: Truth, lt: Truth, out: Outcome) -> None:
    """The log replay is the workers' truth; the file backtest checks the logs hold the
    input, and their difference is what the watermark records decided."""
    out.logs_vs_file = {"counted": (lt.counted, t.counted),
                        "duplicate": (lt.duplicates, t.duplicates),
                        "late": (lt.late, t.late), "invalid": (lt.invalid, t.invalid)}
    out.rows_moved_by_records = sum(1 for k, v in t.rows.items() if lt.rows.get(k) != v) + sum(
        1 for k in lt.rows if k not in t.rows)


def compare(t: Truth, cluster: Cluster, out: Outcome) -> None:
    got: dict[tuple[Any, ...], dict[str, str]] = {}
    for inc in cluster.all:
        for row in read_jsonl(inc.worker.signals):
            got.setdefault(row_key(row), {})[json.dumps(row, sort_keys=True)] = (
                inc.worker.name)
    out.rows_expected = len(t.rows)
    out.missing = sorted(k for k in t.rows if k not in got)
    out.extra = sorted(k for k in got if k not in t.rows)
    out.conflicting = sorted(k for k, v in got.items() if len(v) > 1)
    out.differing = sorted(k for k, v in got.items() if k in t.rows and any(
        json.loads(r) != t.rows[k] for r in v))
    for name, keys in (("missing", out.missing), ("extra", out.extra),
                       ("differing", out.differing)):
        out.samples[name] = [
            {"key": list(k), "expected": t.rows.get(k),
             "got": {w: json.loads(r) for r, w in got.get(k, {}).items()}}
            for k in keys[:20]]
    episodes: dict[str, dict[str, Any]] = {}
    for inc in cluster.live:
        for e in read_jsonl(inc.worker.episodes):
            episodes[json.dumps(e, sort_keys=True)] = e
    mine = sorted_episodes(list(episodes.values()))
    out.episodes = (len(mine), len(t.episodes))
    out.episodes_equal = mine == sorted_episodes(t.episodes)
    out.late_panes = sum(inc.late_panes for inc in cluster.all)
    out.stalled_writes = sum(inc.stalled_writes for inc in cluster.all)
    want = {"counted": t.counted, "duplicate": t.duplicates, "late": t.late}
    out.counters = {o: (sum(inc.events.get(o, 0.0) for inc in cluster.all), want[o])
                    for o in want}
    trace = check(load(f"{cluster.env.env[TRACE]}.*"))
    out.traced = {o: (trace.exported.get(o, 0), want[o]) for o in want}
    out.trace_overlaps, out.trace_gaps = trace.overlaps, trace.gaps
    out.scrape_mismatches = scrape_mismatches(cluster, trace)
    out.crashes = list(cluster.crashes)
    out.workers_run = len(cluster.all)


def scrape_mismatches(cluster: Cluster, trace: TraceReport) -> list[tuple[str, str, float, int]]:
    """Each process's last scrape against its own trace: it must hold every export the
    process traced before the request started and none traced after it ended (the same
    machine's clock). So the trace is what /metrics served; the harness's scrapes only
    miss what a killed process exported after its last one."""
    bad = []
    for inc in cluster.all:
        assert inc.worker.proc is not None
        start, end = inc.scraped_at
        before = trace.exported_by(inc.worker.proc.pid, start, inclusive=False)
        by_end = trace.exported_by(inc.worker.proc.pid, end, inclusive=True)
        for o in OUTCOMES:
            got = inc.events.get(o, 0.0)
            if not before.get(o, 0) <= got <= by_end.get(o, 0):
                bad.append((inc.worker.name, o, got, before.get(o, 0)))
    return bad


def settle(cluster: Cluster, producer_done: Callable[[], bool], timeout: float,
           log: Callable[[str], None]) -> bool:
    """Producer done, every live worker at lag 0, and no new row for 20 s."""
    def rows() -> int:
        return sum(inc.worker.signals.stat().st_size for inc in cluster.all
                   if inc.worker.signals.exists())

    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        size = rows()
        if size != last:
            last, since = size, time.monotonic()
        with cluster._lock:
            live = list(cluster.live)
        lags = [inc.lag for inc in live]
        quiet = time.monotonic() - since
        if producer_done() and len(live) >= 2 and all(x == 0 for x in lags) and quiet >= 20:
            return True
        time.sleep(1.0)
    log(f"did not settle in {timeout:.0f}s (lags {lags})")
    return False


def run(args: argparse.Namespace) -> Outcome:
    work = Path(args.work or tempfile.mkdtemp(prefix="hw-chaos-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    logfile = (work / "chaos.log").open("a")
    t0 = time.monotonic()

    def log(msg: str) -> None:
        line = f"[{time.monotonic() - t0:7.1f}s] {msg}"
        print(line, flush=True)
        logfile.write(line + "\n")
        logfile.flush()

    rng = random.Random(args.seed)
    faults = plan(rng, args.faults)
    # A fault takes 8-15 s to come and up to 15 s to play out: spread the input over them all.
    rate = args.rate or max(50.0, args.events / (args.faults * 20 + 10))
    log(f"seed {args.seed}; {args.faults} faults planned: {', '.join(faults)}; "
        f"{args.events:,} events at {rate:,.0f}/s; idle after {args.idle_after:g}s; work {work}")
    raw, events = work / "simulated.jsonl", work / "events.jsonl"
    simulate(raw, args.events, args.seed)
    edits = harden(raw, events, args.seed, rate, quiet_every_s=args.quiet_every,
                   quiet_len_s=args.quiet_len)
    t = truth(events, args.partitions, work, edits)
    log(f"input: {t.lines:,} lines ({edits}); truth: {len(t.rows):,} rows, "
        f"{len(t.episodes)} episodes, {t.counted:,} counted, {t.duplicates:,} duplicates, "
        f"{t.late:,} late, {t.invalid:,} invalid ({t.repeated_ids:,} lines repeat an id)")
    out = Outcome(label=args.label or f"seed {args.seed}", faults=[])
    kafka = LocalKafka(work / "kafka", port=free_port(), controller_port=free_port())
    kafka.start(timeout=180)
    env = Env(kafka.bootstrap, work, partitions=args.partitions)
    (work / "trace").mkdir(exist_ok=True)
    env.env[TRACE] = str(work / "trace" / "x")
    create_topics(KafkaSettings(broker=kafka.bootstrap, topic_prefix=env.prefix,
                                app_id=env.app_id, partitions=args.partitions))
    cluster = Cluster(env, kafka, ["--idle-after", str(args.idle_after)], log)
    producer = None
    try:
        cluster.begin(2)
        wait_until(lambda: all(inc.lag is not None for inc in cluster.live), 180,
                   "both workers serving /metrics with lag")
        log("two workers up; producing")
        producer = env.produce_async(events, "--rate", f"{rate:.0f}", "--final-watermark")
        for i, kind in enumerate(faults, 1):
            time.sleep(rng.uniform(8.0, 15.0))
            desc = FAULTS[kind](cluster, rng)
            out.faults.append(f"{kind}: {desc}")
            log(f"fault {i}/{len(faults)} {kind}: {desc} "
                f"(producer {'running' if producer.poll() is None else 'done'})")
        try:
            producer.wait(timeout=max(60.0, args.events / rate * 2))
        except Exception:
            log("producer still running; waiting in settle")
        out.settled = settle(cluster, lambda: producer is not None
                             and producer.poll() is not None, args.settle_timeout, log)
        out.producer_rc = producer.wait(timeout=10)
        if out.producer_rc != 0:
            assert producer.stderr is not None
            log(f"PRODUCER exited {out.producer_rc}: {producer.stderr.read()[-2000:]}")
        log("settled; replaying the source topics (`backtest --from-kafka`)")
        lt = log_truth(kafka.bootstrap, env.prefix, work, t)
        logs_against_file(t, lt, out)
        log(f"logs: {lt.counted:,} counted, {lt.duplicates:,} duplicates, {lt.late:,} late, "
            f"{lt.invalid:,} invalid (`backtest --from-kafka`); the logs' watermark records "
            f"made {lt.late - t.late:+,} events late and changed "
            f"{out.rows_moved_by_records:,} rows; the logs "
            f"{'hold' if out.logs_hold_the_file else 'DO NOT hold'} the file exactly")
        compare(lt, cluster, out)
    finally:
        cluster.end()
        if producer is not None and producer.poll() is None:
            producer.kill()
        kafka.stop()
    out.seconds = time.monotonic() - t0
    report(out, t, log)
    (work / "result.json").write_text(json.dumps(
        {"seed": args.seed, "events": t.lines, "faults": out.faults, "rate": rate,
         "rows_expected": out.rows_expected, "missing": len(out.missing),
         "extra": len(out.extra), "differing": len(out.differing),
         "conflicting": len(out.conflicting), "late_panes": out.late_panes,
         "stalled_writes": out.stalled_writes,
         "episodes": out.episodes, "episodes_equal": out.episodes_equal,
         "counters": out.counters, "traced": out.traced,
         "trace_overlaps": out.trace_overlaps, "trace_gaps": out.trace_gaps,
         "scrape_mismatches": out.scrape_mismatches, "crashes": out.crashes,
         "workers_run": out.workers_run,
         "settled": out.settled, "producer_rc": out.producer_rc, "seconds": out.seconds,
         "edits": t.edits, "logs_vs_file": out.logs_vs_file,
         "rows_moved_by_records": out.rows_moved_by_records,
         "ok": out.ok(args.max_crashes),
         "samples": out.samples},
        indent=1, default=str))
    logfile.close()
    return out


def report(out: Outcome, t: Truth, log: Callable[[str], None]) -> None:
    for name in ("missing", "extra", "differing"):
        for s in out.samples.get(name, [])[:10]:
            log(f"{name.upper()} {s['key']}: expected {s['expected']} got {s['got']}")
    for k in out.conflicting[:10]:
        log(f"CONFLICTING {list(k)}: two workers wrote different values")
    log(f"episodes: {out.episodes[0]} from the live workers, {out.episodes[1]} in the "
        f"backtest: {'equal' if out.episodes_equal else 'DIFFERENT'}")
    for o, (got, want) in out.traced.items():
        scraped = out.counters[o][0]
        log(f"counter {o}: {got:,} exported by {out.workers_run} processes (trace), "
            f"{want:,} in the backtest ({got - want:+,}); {scraped:,.0f} by their last "
            f"scrapes ({scraped - want:+,.0f})")
    for line in out.trace_overlaps[:10] + out.trace_gaps[:10]:
        log(f"TRACE {line}")
    for name, o, served, had in out.scrape_mismatches[:10]:
        log(f"SCRAPE {name} {o}: its last scrape served {served:,.0f}, its trace had "
            f"{had:,} before that scrape")
    log(f"snapshots written across a stall: {out.stalled_writes:,.0f}")
    log(f"crashes: {out.crashes or 'none'}; settled: {out.settled}; "
        f"producer exit {out.producer_rc}; {out.seconds:.0f}s")
    print(out.table(), flush=True)


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except where there is none (the text then says what happens)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Chaos run against a real local Kafka broker: two harmwatch workers, "
                    "one fault every 8-15 s from a logged seed, then every worker's signal "
                    "rows united and compared with `harmwatch backtest --from-kafka` of the "
                    "source topics, which must hold the input file exactly (`backtest "
                    "--partitions N` of it). Exit 0 on an exact match, 1 on any difference.",
        formatter_class=DefaultsHelp)
    p.add_argument("--seed", type=int, metavar="N", default=7,
                   help="seed of the input and the faults")
    p.add_argument("--faults", type=int, metavar="N", default=7,
                   help=f"faults to inject; the first {len(FAULTS)} are one of each kind "
                        f"({', '.join(FAULTS)})")
    p.add_argument("--events", type=int, metavar="N", default=40_000,
                   help="about this many input lines")
    p.add_argument("--rate", type=float, metavar="EVENTS_PER_S", default=None,
                   help="producer events/s (default: spread the events over the faults)")
    p.add_argument("--partitions", type=int, metavar="N", default=6,
                   help="partitions per source topic")
    p.add_argument("--idle-after", type=float, metavar="S", default=3.0,
                   help="the workers' --idle-after (idle timeout, s)")
    p.add_argument("--quiet-every", type=float, metavar="S", default=25.0,
                   help="a quiet stretch of the appeals stream every this many s of producing")
    p.add_argument("--quiet-len", type=float, metavar="S", default=9.0,
                   help="length of each quiet stretch (s of producing; above --idle-after)")
    p.add_argument("--settle-timeout", type=float, metavar="S", default=600.0,
                   help="give up waiting for lag 0 and no new rows after this long (s)")
    p.add_argument("--max-crashes", type=int, metavar="N", default=0,
                   help="worker exits nobody asked for that still pass (a crash loop fails)")
    p.add_argument("--work", metavar="DIR",
                   help="directory for the input, logs and rows (default: a temp dir, kept)")
    p.add_argument("--label", help="name of the run in the table (default: the seed)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = run(args)
    except (RuntimeError, AssertionError) as exc:
        print(f"chaos: setup failed: {exc}", file=sys.stderr)
        return 2
    return 0 if out.ok(args.max_crashes) else 1


if __name__ == "__main__":
    sys.exit(main())
