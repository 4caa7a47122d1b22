"""The chaos run's cluster (a broker and the worker processes) and its faults.

Two workers are always meant to be running: a fault that takes one away starts its
replacement at once (a new process with its own ``--signals-out`` file; the run unites
them all). A worker that exits without having been told to is a *crash*: it is replaced
too, and counted, so that a crash loop shows up as a number instead of a hang.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.dev.kafka_broker import LocalKafka
from tests.streaming.kafka_harness import Env, Worker, metric_sum

SESSION_TIMEOUT_S = 10.0  # broker_session_timeout in streams/kafka/app.py
OUTCOMES = ("counted", "duplicate", "late")


@dataclass
class Incarnation:
    """One worker process and the last /metrics figures it served."""

    worker: Worker
    started: float
    told_to_exit: bool = False
    stopped: bool = False  # SIGSTOPped right now: do not scrape
    # Wall-clock span of the request that gave ``events`` (the trace's clock): the figures
    # hold every export traced before its start and none traced after its end.
    scraped_at: tuple[float, float] = (float("-inf"), float("-inf"))
    events: dict[str, float] = field(default_factory=dict)
    late_panes: float = 0.0
    stalled_writes: float = 0.0
    lag: float | None = None


class Cluster:
    """The broker, the live workers and every worker that ever ran."""

    def __init__(self, env: Env, kafka: LocalKafka, worker_args: list[str],
                 log: Callable[[str], None]) -> None:
        self.env = env
        self.kafka = kafka
        self.worker_args = worker_args
        self.log = log
        self.live: list[Incarnation] = []
        self.all: list[Incarnation] = []
        self.crashes: list[tuple[str, int | None]] = []
        self._lock = threading.RLock()
        self._n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def begin(self, workers: int = 2) -> None:
        for _ in range(workers):
            self.spawn()
        self._thread.start()

    def end(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            for inc in self.live:
                inc.told_to_exit = True
                if inc.stopped and inc.worker.proc is not None:
                    inc.worker.proc.send_signal(signal.SIGCONT)
                    inc.stopped = False
                self.scrape(inc)
                inc.worker.stop(timeout=20)
            self.live = []

    # -- workers

    def spawn(self) -> Incarnation:
        with self._lock:
            self._n += 1
            inc = Incarnation(Worker(self.env, f"w{self._n:02d}", *self.worker_args).start(),
                              time.monotonic())
            self.live.append(inc)
            self.all.append(inc)
            return inc

    def kill(self, inc: Incarnation) -> None:
        with self._lock:
            inc.told_to_exit = True
            if inc in self.live:
                self.live.remove(inc)
        if inc.worker.proc is not None and inc.worker.proc.poll() is None:
            self.scrape(inc)  # last figures before it dies (it may be mid-batch: a guess)
            inc.worker.proc.send_signal(signal.SIGKILL)
            inc.worker.proc.wait(timeout=30)

    def terminate(self, inc: Incarnation) -> None:
        with self._lock:
            inc.told_to_exit = True
            if inc in self.live:
                self.live.remove(inc)
        self.scrape(inc)
        inc.worker.stop(timeout=60)

    def scrape(self, inc: Incarnation) -> str:
        if inc.stopped:
            return ""
        start = time.time()
        text = inc.worker.metrics()
        end = time.time()
        if not text:
            return ""
        try:
            inc.events = {o: metric_sum(text, "harmwatch_events_total", outcome=o)
                          for o in OUTCOMES}
            inc.scraped_at = (start, end)
            inc.late_panes = metric_sum(text, "harmwatch_merge_late_panes_total")
            inc.stalled_writes = metric_sum(text, "harmwatch_snapshot_writes_stalled_total")
            inc.lag = metric_sum(text, "harmwatch_consumer_lag")
        except AssertionError:  # serving, but the families are not all exposed yet
            return ""
        return text

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                live = list(self.live)
            for inc in live:
                code = inc.worker.proc.poll() if inc.worker.proc is not None else None
                if code is not None and not inc.told_to_exit:
                    with self._lock:
                        if inc in self.live:
                            self.live.remove(inc)
                        self.crashes.append((inc.worker.name, code))
                    self.log(f"CRASH {inc.worker.name} exited {code} on its own; replaced")
                    self.spawn()
                elif code is None:
                    self.scrape(inc)

    # -- the broker

    def kill_broker(self) -> None:
        pid = self.kafka.pid()
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while self.kafka.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)

    def start_broker(self) -> None:
        self.kafka.start(timeout=180)


# -- the faults: each takes the cluster and a seeded generator, logs what it did


def _victim(c: Cluster, rng: random.Random) -> Incarnation:
    with c._lock:
        return rng.choice(c.live)


def kill_random(c: Cluster, rng: random.Random) -> str:
    v = _victim(c, rng)
    c.kill(v)
    c.spawn()
    return f"SIGKILL {v.worker.name}"


def kill_during_takeover(c: Cluster, rng: random.Random) -> str:
    v = _victim(c, rng)
    c.kill(v)
    r = c.spawn()
    wait = rng.uniform(2.0, 7.0)
    time.sleep(wait)  # the group rebalances and the replacement restores tables
    c.kill(r)
    c.spawn()
    return f"SIGKILL {v.worker.name}, its replacement {r.worker.name} after {wait:.1f}s"


def kill_both(c: Cluster, rng: random.Random) -> str:
    with c._lock:
        both = list(c.live)
    for v in both:
        c.kill(v)
    for _ in both:
        c.spawn()
    return "SIGKILL " + " and ".join(v.worker.name for v in both)


def stop_cont(c: Cluster, rng: random.Random) -> str:
    v = _victim(c, rng)
    pause = SESSION_TIMEOUT_S + rng.uniform(3.0, 6.0)
    assert v.worker.proc is not None
    c.scrape(v)  # its figures up to the stop, in case it is killed before it is thawed
    v.stopped = True
    v.worker.proc.send_signal(signal.SIGSTOP)
    time.sleep(pause)
    v.worker.proc.send_signal(signal.SIGCONT)
    v.stopped = False
    return f"SIGSTOP {v.worker.name} {pause:.1f}s (session timeout {SESSION_TIMEOUT_S:g}s)"


def third_worker(c: Cluster, rng: random.Random) -> str:
    t = c.spawn()
    stay = rng.uniform(8.0, 15.0)
    time.sleep(stay)
    c.terminate(t)
    return f"2->3->2: {t.worker.name} for {stay:.1f}s, then SIGTERM"


def down_to_one(c: Cluster, rng: random.Random) -> str:
    v = _victim(c, rng)
    c.terminate(v)
    alone = rng.uniform(8.0, 15.0)
    time.sleep(alone)
    n = c.spawn()
    return f"2->1->2: SIGTERM {v.worker.name}, alone {alone:.1f}s, then {n.worker.name}"


def broker_kill(c: Cluster, rng: random.Random) -> str:
    down = rng.uniform(1.0, 4.0)
    c.kill_broker()
    time.sleep(down)
    t0 = time.monotonic()
    c.start_broker()
    return f"broker SIGKILL, down {down:.1f}s, restart took {time.monotonic() - t0:.1f}s"


FAULTS: dict[str, Callable[[Cluster, random.Random], str]] = {
    "kill": kill_random, "kill-takeover": kill_during_takeover, "kill-both": kill_both,
    "sigstop": stop_cont, "third": third_worker, "one": down_to_one, "broker": broker_kill,
}


def plan(rng: random.Random, n: int) -> list[str]:
    """``n`` faults: every kind once (shuffled) while ``n`` allows, then random kinds."""
    kinds = list(FAULTS)
    rng.shuffle(kinds)
    out = kinds[:n]
    out += [rng.choice(list(FAULTS)) for _ in range(n - len(out))]
    return out
