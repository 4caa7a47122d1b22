"""``harmwatch run``: the embedded main job (simulator or file replay, metrics, live view)."""

from __future__ import annotations

import datetime as dt
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from prometheus_client import start_http_server

from alerts.metrics import HarmwatchCollector, new_registry
from signals.admission import MAX_FUTURE_S
from signals.config import Config
from signals.pipeline import Pipeline
from streams.config_files import ConfigWatcher
from streams.embedded.live import LiveView, log_transitions
from streams.ports import DEFAULT_METRICS_PORT
from streams.sources.simulator import Simulator, schedule

Source = Iterator[bytes]


@dataclass(frozen=True)
class RunOptions:
    config_path: Path | None = None
    events: Path | None = None
    speed: float | None = None  # None: as fast as possible
    metrics_port: int | None = DEFAULT_METRICS_PORT
    metrics_host: str = "127.0.0.1"
    live: bool | None = None  # None: live view when stdout is a terminal
    duration_s: int | None = None  # simulator: event time to run (None: until Ctrl-C)
    prefill_s: int = 3600
    incidents: bool = True
    seed: int = 7
    exit_at_end: bool = False
    audit_log: Path | None = None  # where accepted and refused configs are recorded


def _file_source(path: Path) -> Source:
    with path.open("rb") as handle:
        for raw in handle:
            if raw != b"\n":
                yield raw.rstrip(b"\r\n")


def _simulator_source(opts: RunOptions) -> tuple[Source, float]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(seconds=opts.prefill_s)
    # Incidents begin after the prefill: the hour of history only warms up the baselines.
    incidents = schedule(now, 10_000) if opts.incidents else []
    sim = Simulator(start=start, seed=opts.seed, incidents=incidents, invalid_rate=0.0005)
    total = opts.prefill_s + (opts.duration_s if opts.duration_s is not None else 10**9)
    return (line for _, line in sim.lines(total)), now.timestamp()


class _Stop(Exception):
    pass


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run(config: Config, opts: RunOptions) -> int:
    # The simulator runs on the wall clock, so a future-dated event is a producer bug there;
    # a replayed file may be dated anywhere.
    pipeline = Pipeline(config, max_future_s=None if opts.events else MAX_FUTURE_S,
                        clock=time.time)
    collector = HarmwatchCollector(config, pipelines=[pipeline])
    if opts.metrics_port is not None:
        start_http_server(opts.metrics_port, addr=opts.metrics_host,
                          registry=new_registry(collector))
    if opts.events is not None:
        source: Source = _file_source(opts.events)
        paced_from: float | None = None  # pace from the first event
        speed = opts.speed
    else:
        source, paced_from = _simulator_source(opts)
        speed = opts.speed if opts.speed is not None else 20.0
    live = sys.stdout.isatty() if opts.live is None else opts.live
    view = LiveView(config, pipeline, opts.metrics_port)
    watcher = ConfigWatcher(opts.config_path, config, opts.audit_log)
    signal.signal(signal.SIGTERM, _on_term)
    engine = pipeline.engine
    try:
        if live:
            from rich.live import Live

            with Live(view.render(), refresh_per_second=4, screen=False) as display:
                _loop(pipeline, collector, source, speed, paced_from, view, watcher,
                      lambda: display.update(view.render()))
        else:
            _loop(pipeline, collector, source, speed, paced_from, view, watcher, None)
        engine.flush()
        _publish(pipeline, collector, view, live)
        if opts.events is not None and not opts.exit_at_end and opts.metrics_port is not None:
            print(f"replay finished: {engine.ingest.counted:,} events counted; serving metrics on "
                  f"http://{opts.metrics_host}:{opts.metrics_port}/metrics until Ctrl-C",
                  flush=True)
            while True:
                time.sleep(1)
                _reload(pipeline, collector, view, watcher, live)
    except (KeyboardInterrupt, _Stop):
        pass
    ingest = engine.ingest
    print(f"stopped: {ingest.counted:,} events counted, {ingest.duplicates:,} duplicates, "
          f"{ingest.late:,} late, {pipeline.invalid_total:,} invalid", flush=True)
    return 0


def _publish(pipeline: Pipeline, collector: HarmwatchCollector, view: LiveView,
             live: bool) -> None:
    engine = pipeline.engine
    transitions = engine.evaluator.drain_transitions()
    engine.evaluator.drain_rows()
    collector.publish(engine)
    if live:
        view.note(transitions)
    else:
        log_transitions(transitions, sys.stdout)


def _reload(pipeline: Pipeline, collector: HarmwatchCollector, view: LiveView,
            watcher: ConfigWatcher, live: bool) -> None:
    new, refused = watcher.poll()
    old = watcher.current.digest
    if refused is not None:
        first = refused.splitlines()[0]
        message = f"config refused, keeping {old}: {first}"
    elif new is not None:
        blocker = pipeline.engine.reconfigure(new)
        if blocker is not None:
            message = f"config refused, keeping {old}: {blocker}"
        else:
            watcher.current = collector.config = view.config = new
            message = f"config reloaded: {old} -> {new.digest}"
    else:
        return
    if live:
        view.recent.appendleft(message)
    else:
        print(message, flush=True)


def _loop(pipeline: Pipeline, collector: HarmwatchCollector, source: Source,
          speed: float | None, paced_from: float | None, view: LiveView,
          watcher: ConfigWatcher, refresh: Callable[[], None] | None) -> None:
    engine = pipeline.engine
    anchor: float | None = None  # wall clock when event time reached paced_from
    last_ui = last_reload = 0.0
    counted_at_ui = 0
    live = refresh is not None
    for raw in source:
        pipeline.feed(raw)
        when = engine.ingest.newest
        if speed and when != float("-inf"):
            if paced_from is None:
                paced_from = when
            if when < paced_from:
                view.phase = ("warming up: replaying history at full speed so the baselines "
                              "are ready; incidents start when it goes live")
            else:
                if anchor is None:
                    anchor = time.monotonic()
                    view.phase = ""
                delay = (when - paced_from) / speed - (time.monotonic() - anchor)
                if delay > 0:
                    time.sleep(delay)
        if engine.evaluator.transitions or engine.evaluator.rows:
            _publish(pipeline, collector, view, live)
        now = time.monotonic()
        if now - last_reload >= 1.0:
            last_reload = now
            _reload(pipeline, collector, view, watcher, live)
        if now - last_ui >= 0.25:
            view.rate = (engine.ingest.counted - counted_at_ui) / max(now - last_ui, 1e-9)
            counted_at_ui, last_ui = engine.ingest.counted, now
            if refresh is not None:
                refresh()
