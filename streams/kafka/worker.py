"""``harmwatch worker``: wait for the broker, make sure the topics exist, run the Faust app."""

from __future__ import annotations

import sys
import time
from typing import IO

from signals.config import Config
from streams.kafka.app import AppFactory, create_app
from streams.kafka.broker_check import broker_reachable
from streams.kafka.options import WorkerOptions
from streams.kafka.settings import KafkaSettings


def wait_for_broker(broker: str, err: IO[str], give_up_after_s: float | None = None,
                    first_delay_s: float = 1.0, max_delay_s: float = 30.0) -> bool:
    """Poll until a broker answers a metadata request; one line per failed attempt."""
    delay = first_delay_s
    started = time.monotonic()
    while not broker_reachable(broker):
        waited = time.monotonic() - started
        if give_up_after_s is not None and waited + delay > give_up_after_s:
            print(f"harmwatch worker: Kafka broker at {broker} not reachable after "
                  f"{waited:.0f}s; giving up", file=err, flush=True)
            return False
        print(f"harmwatch worker: Kafka broker at {broker} not reachable; "
              f"retrying in {delay:g}s", file=err, flush=True)
        time.sleep(delay)
        delay = min(delay * 2, max_delay_s)
    return True


def run_worker(config: Config, settings: KafkaSettings, opts: WorkerOptions,
               give_up_after_s: float | None = None, make_app: AppFactory = create_app) -> int:
    """``make_app``: the benchmark's Faust-agent baselines replace the shipped app."""
    from streams.kafka.topics import TopicError, create_topics

    if not wait_for_broker(settings.broker, sys.stderr, give_up_after_s):
        return 1
    try:
        create_topics(settings)
    except TopicError as exc:
        print(f"harmwatch worker: {exc}", file=sys.stderr)
        return 2
    app, _ = make_app(config, settings, opts)
    from faust.worker import Worker

    print(f"harmwatch worker {settings.app_id}: broker {settings.broker}, metrics on "
          f"http://{opts.web_host}:{opts.web_port}/metrics", file=sys.stderr, flush=True)
    worker = Worker(app, loglevel=opts.loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
