"""``harmwatch worker``: wait for the broker, make sure the topics exist, run the Faust app.

A broker that goes away *while the worker starts* (after the broker check, during Faust's
start: its producer's or consumer's bootstrap, topic declarations, table recovery) makes
Faust's start raise a Kafka client error, and Faust's worker then exits 1: Faust itself
does not retry a failed start (robinhood/faust#711, and the same code in faust-streaming).
The worker then waits for the broker with the same backoff as before the start and starts
again by re-executing itself (same pid, same arguments): a Faust app and its event loop are
not meant to be started twice in one process. A failure that is not a Kafka client error
(a bug, a bad config) still exits non-zero.
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

from aiokafka.errors import KafkaError as AioKafkaError
from kafka.errors import KafkaError

from signals.config import Config
from streams.kafka.app import AppFactory, create_app
from streams.kafka.broker_check import broker_reachable
from streams.kafka.options import WorkerOptions
from streams.kafka.runtime import Runtime
from streams.kafka.settings import KafkaSettings

# How many times this process has re-executed itself after losing the broker at start-up.
RESTARTS_ENV = "HARMWATCH_WORKER_START_RESTARTS"
MAX_DELAY_S = 30.0


def wait_for_broker(broker: str, err: IO[str], give_up_after_s: float | None = None,
                    first_delay_s: float = 1.0, max_delay_s: float = MAX_DELAY_S) -> bool:
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


def broker_failure(exc: BaseException | None) -> BaseException | None:
    """The Kafka client error in ``exc``'s chain (the broker went away), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, AioKafkaError | KafkaError):
            found: BaseException = exc
            return found
        exc = exc.__cause__ or exc.__context__
    return None


def restart_delay_s(restarts: int) -> float:
    """Before restart n (0-based): 1, 2, 4 ... 30 s, so a broker that keeps failing the
    start is not hammered by a restart loop."""
    return float(min(2 ** restarts, MAX_DELAY_S))


def _start_again(settings: KafkaSettings, failure: BaseException, err: IO[str],
                 give_up_after_s: float | None) -> int:
    """Wait with backoff, then replace this process by a fresh start of the same command.
    Returns only when giving up."""
    restarts = int(os.environ.get(RESTARTS_ENV, "0") or 0)
    delay = restart_delay_s(restarts)
    print(f"harmwatch worker: lost the Kafka broker while starting "
          f"({type(failure).__name__}); starting again in {delay:g}s once it answers",
          file=err, flush=True)
    time.sleep(delay)
    if not wait_for_broker(settings.broker, err, give_up_after_s):
        return 1
    os.environ[RESTARTS_ENV] = str(restarts + 1)
    argv = [sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    err.flush()
    os.execv(sys.executable, argv)
    return 1  # not reached


def _worker_class(runtime: Runtime) -> Any:
    from faust.worker import Worker

    class StartWatchingWorker(Worker):
        """Faust's worker, remembering what made its start (and run) fail, and telling
        the source side when it is asked to stop (its last snapshots then hand their
        counts on to the next owner instead of exporting them, see
        :mod:`streams.kafka.exact_counts`)."""

        failure: BaseException | None = None

        def _on_sigterm(self) -> None:
            runtime.ingest.handing_over = True
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            runtime.ingest.handing_over = True
            super()._on_sigint()

        async def start(self) -> None:
            try:
                await super().start()
            except Exception as exc:
                self.failure = exc
                raise

    return StartWatchingWorker


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
    except KafkaError as exc:  # the broker went away between the check and the topics
        return _start_again(settings, exc, sys.stderr, give_up_after_s)
    app, runtime = make_app(config, settings, opts)

    print(f"harmwatch worker {settings.app_id}: broker {settings.broker}, metrics on "
          f"http://{opts.web_host}:{opts.web_port}/metrics", file=sys.stderr, flush=True)
    worker = _worker_class(runtime)(app, loglevel=opts.loglevel, quiet=True, redirect_stdouts=False)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    failure = broker_failure(worker.failure)
    if code and failure is not None:
        return _start_again(settings, failure, sys.stderr, give_up_after_s)
    return code
