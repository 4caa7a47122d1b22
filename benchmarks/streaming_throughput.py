"""Streaming benchmarks against a real local Kafka broker (results in docs/streaming.md).

    .venv/bin/python benchmarks/streaming_throughput.py [--broker HOST:PORT] [--events N]

Without --broker a LocalKafka is started in a temp dir (and stopped at the end).

1. throughput: N events preloaded on 6-partition topics, one worker per ingest mode, side by
   side in one run: ``direct`` (``harmwatch worker``, what ships: getmany batches beside
   Faust), ``agent`` (a Faust agent with ``take_events`` batches) and ``per-event`` (a
   plain per-event ``async for`` agent; on the first ``--per-event-events`` events only, it
   is that slow) — the two baselines are ``benchmarks/faust_agent_worker.py``; then two
   direct workers in one group. Events/s from the first counted event until every event
   is counted (startup excluded).
2. latency: one direct worker, a producer at a steady rate (default 5,000/s) for 20 s,
   /metrics scraped every 50 ms; latency of message i = first scrape where
   ``harmwatch_events_total`` >= i minus the time message i was sent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaProducer

from streams.dev.kafka_broker import LocalKafka, free_port
from streams.kafka.settings import KafkaSettings
from streams.kafka.topics import create_topics
from streams.sources.simulator import Simulator
from tests.streaming.kafka_harness import Env, Worker, metric_sum, wait_until

AGENT_WORKER = [sys.executable, str(Path(__file__).resolve().with_name("faust_agent_worker.py"))]

STREAM_TOPIC = {b'"type":"decision"': "decisions", b'"type":"appeal"': "appeals",
                b'"type":"report"': "reports"}


def _events(n: int) -> list[tuple[str, bytes, bytes]]:
    start = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    sim = Simulator(start=start, seed=11, duplicate_rate=0.0, scale=30.0)
    out = []
    for _, line in sim.lines(10**7):
        for marker, topic in STREAM_TOPIC.items():
            if marker in line:
                eid = line.split(b'"event_id":"', 1)[1].split(b'"', 1)[0]
                out.append((topic, eid, line))
                break
        if len(out) >= n:
            break
    return out


def _preload(env: Env, events: list[tuple[str, bytes, bytes]], rate: float | None = None,
             marks: list[tuple[float, int]] | None = None) -> float:
    producer = KafkaProducer(bootstrap_servers=env.broker, linger_ms=20,
                             batch_size=1024 * 1024, acks=1)
    started = time.monotonic()
    for i, (topic, key, value) in enumerate(events, 1):
        producer.send(env.topic(topic), value=value, key=key)
        if rate and i % 50 == 0:
            now = time.monotonic()
            if marks is not None:
                marks.append((now, i))
            ahead = i / rate - (now - started)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    producer.close()
    return time.monotonic() - started


def _events_counted(text: str) -> float:
    """Events a worker counted; 0 while it does not serve /metrics yet (a failed scrape
    reads as ""), but a name it does not export still fails loudly."""
    return metric_sum(text, "harmwatch_events_total") if text else 0.0


def _counted(w: Worker) -> float:
    return _events_counted(w.metrics())


def throughput(broker: str, tmp: Path, events: list[tuple[str, bytes, bytes]],
               workers: int, mode: str) -> dict[str, float]:
    env = Env(broker, tmp / f"tp-{workers}-{mode}")
    env.tmp.mkdir(parents=True, exist_ok=True)
    create_topics(KafkaSettings(broker=broker, topic_prefix=env.prefix, app_id=env.app_id))
    load_s = _preload(env, events)
    if mode == "direct":
        ws = [Worker(env, f"w{i}").start() for i in range(workers)]
    else:
        ws = [Worker(env, f"w{i}", "--ingest", mode, command=AGENT_WORKER).start()
              for i in range(workers)]
    n = len(events)
    try:
        def first() -> float | None:
            return time.monotonic() if sum(_counted(w) for w in ws) > 0 else None

        t0 = wait_until(first, 180, "the first counted event", interval=0.05)
        c0 = sum(_counted(w) for w in ws)
        wait_until(lambda: sum(_counted(w) for w in ws) >= n, 900, f"{n} counted events",
                   interval=0.2)
        t1 = time.monotonic()
    finally:
        for w in ws:
            w.stop()
    return {"events": n, "produce_s": load_s, "seconds": t1 - t0,
            "events_per_s": (n - c0) / (t1 - t0)}


def latency(broker: str, tmp: Path, events: list[tuple[str, bytes, bytes]],
            rate: float) -> dict[str, float]:
    env = Env(broker, tmp / "lat")
    env.tmp.mkdir(parents=True, exist_ok=True)
    create_topics(KafkaSettings(broker=broker, topic_prefix=env.prefix, app_id=env.app_id))
    w = Worker(env, "lat").start()
    scrapes: list[tuple[float, float]] = []
    stop = threading.Event()
    try:
        wait_until(w.metrics, 90, "/metrics")
        time.sleep(5)  # group join and assignment settle

        def scrape() -> None:
            while not stop.is_set():
                text = w.metrics()
                scrapes.append((time.monotonic(), _events_counted(text)))
                time.sleep(0.05)

        thread = threading.Thread(target=scrape, daemon=True)
        thread.start()
        marks: list[tuple[float, int]] = []
        _preload(env, events, rate=rate, marks=marks)
        wait_until(lambda: scrapes and scrapes[-1][1] >= len(events), 120, "all counted")
        stop.set()
        thread.join()
    finally:
        w.stop()
    lat = []
    j = 0
    for sent_at, i in marks:
        while j < len(scrapes) and scrapes[j][1] < i:
            j += 1
        if j == len(scrapes):
            break
        lat.append(scrapes[j][0] - sent_at)
    lat.sort()
    return {"rate": rate, "samples": len(lat), "p50_s": statistics.median(lat),
            "p99_s": lat[int(len(lat) * 0.99) - 1], "max_s": lat[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Worker throughput per ingest mode and produce->/metrics latency "
                    "against a real Kafka broker (started here unless --broker is given).")
    parser.add_argument("--broker", metavar="HOST:PORT",
                        help="an existing broker (default: start a local one in a temp dir)")
    parser.add_argument("--events", type=int, default=300_000,
                        help="events preloaded for each throughput run (default 300000)")
    parser.add_argument("--rate", type=float, default=5000.0,
                        help="events/s of the latency run, 20 s long (default 5000)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["direct", "agent", "per-event", "two", "latency"],
                        help="runs to leave out: one worker per ingest mode, two direct "
                             "workers, the latency run")
    parser.add_argument("--per-event-events", type=int, default=10_000,
                        help="events for the per-event baseline (it runs at ~2k/s)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hw-bench-"))
    kafka = None
    broker = args.broker
    if broker is None:
        kafka = LocalKafka(tmp / "kafka", port=free_port(), controller_port=free_port())
        kafka.start(timeout=120)
        broker = kafka.bootstrap
    try:
        events = _events(args.events)
        results = {}
        for mode in ("direct", "agent", "per-event"):
            if mode in args.skip:
                continue
            some = events[: args.per_event_events] if mode == "per-event" else events
            results[mode] = throughput(broker, tmp, some, 1, mode)
            print(f"one worker, {mode}:", results[mode], flush=True)
        if "two" not in args.skip:
            results["two"] = throughput(broker, tmp, events, 2, "direct")
            print("two workers, direct:", results["two"], flush=True)
        if "direct" in results:
            base = results["direct"]["events_per_s"]
            for name, r in results.items():
                print(f"  {name:10s} {r['events_per_s']:>10,.0f} events/s  "
                      f"{r['events_per_s'] / base:5.2f}x direct", flush=True)
        if "latency" not in args.skip:
            lat_events = events[: int(args.rate * 20)]
            print("latency:", latency(broker, tmp, lat_events, args.rate), flush=True)
    finally:
        if kafka is not None:
            kafka.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
