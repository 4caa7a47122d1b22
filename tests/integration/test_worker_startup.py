"""A worker whose broker goes away while it is starting waits for it and joins.

The chaos run (docs/chaos.md) found a worker that had passed its broker check and printed
its banner, then died with ``KafkaConnectionError: Unable to bootstrap`` from Faust's
producer start because the broker was SIGKILLed at that moment. Here the same moment is
made deterministic: the worker is frozen (SIGSTOP) as soon as its banner is out, the broker
is killed, the worker thawed, so Faust's start meets a dead broker.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from signals.events import Rejected, decode_event
from streams.backtest.replay import run_backtest
from streams.config_files import load_config
from streams.dev.kafka_broker import LocalKafka
from tests.streaming.kafka_harness import (
    Env,
    Worker,
    backtest,
    dedupe_rows,
    metric_sum,
    read_jsonl,
    simulate,
    sorted_episodes,
    wait_until,
)

pytestmark = pytest.mark.integration

BANNER = "metrics on http://"
LOST = "lost the Kafka broker while starting"


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("events")
    path = simulate(Env("127.0.0.1:1", tmp), tmp / "events.jsonl", "50m")
    assert run_backtest(load_config(), path).engine.ingest.late == 0
    return path


def _rows(w: Worker) -> dict[tuple[Any, ...], dict[str, Any]]:
    return dedupe_rows(w.rows())


def test_a_worker_starting_while_the_broker_dies_waits_and_joins(
        kafka_broker: LocalKafka, env: Env, events_file: Path, workers: list[Worker]) -> None:
    expected, episodes = backtest(env, events_file)
    assert len(expected) > 500 and episodes
    assert env.run("topics", "create").returncode == 0
    w = Worker(env, "starting")
    workers.append(w)
    w.start()
    assert w.proc is not None
    pid = w.proc.pid
    wait_until(lambda: BANNER in w.stderr, 90, "the worker past its broker check",
               interval=0.01)
    os.kill(pid, signal.SIGSTOP)  # before Faust has started its producer
    try:
        kafka_broker.stop(timeout=0)  # SIGTERM and SIGKILL at once: the broker just dies
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: LOST in w.stderr or not w.alive(), 60,
               "the worker to notice the broker is gone")
    time.sleep(4)  # it must still be waiting, not exiting or restarting in a loop
    try:
        assert w.alive(), w.stderr[-3000:]
        waits = [x for x in w.stderr.splitlines() if "not reachable; retrying in" in x]
        assert waits, w.stderr[-3000:]
    finally:
        kafka_broker.start(timeout=120)
    assert w.proc.pid == pid
    env.produce(events_file, "--final-watermark")

    def caught_up() -> dict[tuple[Any, ...], dict[str, Any]] | None:
        assert w.alive(), w.stderr[-3000:]
        got = _rows(w)
        return got if len(got) >= len(expected) else None

    got = wait_until(caught_up, 240, f"{len(expected)} signal rows")
    assert got == expected
    wait_until(lambda: sorted_episodes(read_jsonl(w.episodes)) == sorted_episodes(episodes),
               60, "the worker's alert episodes to equal the backtest's")
    lines = [x for x in events_file.read_bytes().splitlines() if x.strip()]
    valid = {e.event_id for x in lines if not isinstance(e := decode_event(x), Rejected)}
    counted = wait_until(lambda: metric_sum(w.metrics(), "harmwatch_events_total",
                                            outcome="counted") == len(valid) or None,
                         60, "the worker to count every valid event once")
    assert counted
    assert w.stderr.count(LOST) == 1, w.stderr[-3000:]  # one restart, no loop
    assert w.alive()
