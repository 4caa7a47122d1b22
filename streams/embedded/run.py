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
from signals.threats_config import ThreatsConfig
from streams.config_files import ConfigWatcher
from streams.embedded.live import LiveView, log_transitions
from streams.embedded.threat_panel import ThreatLog
from streams.ports import DEFAULT_METRICS_PORT
from streams.sources.simulator import Simulator, schedule
from streams.sources.threat_traffic import ThreatTraffic, threat_schedule

# (arrival time on the source's own clock, or None where it has none; the raw message)
Source = Iterator[tuple[float | None, bytes]]


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
    threats: ThreatsConfig | None = None  # the emergent-threat detectors (docs/threats.md)


def _file_source(path: Path) -> Source:
    with path.open("rb") as handle:
        for raw in handle:
            if raw != b"\n":
                yield None, raw.rstrip(b"\r\n")


def _simulator_source(opts: RunOptions) -> tuple[Source, float]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now - dt.timedelta(seconds=opts.prefill_s)
    # Incidents begin after the prefill: the hour of history only warms up the baselines.
    incidents = schedule(now, 10_000) if opts.incidents else []
    traffic = None
    if opts.threats is not None:  # tags, advertisers and one of each threat incident
        planted = threat_schedule(now + dt.timedelta(seconds=300)) if opts.incidents else []
        traffic = ThreatTraffic(seed=opts.seed, incidents=planted)
    sim = Simulator(start=start, seed=opts.seed, incidents=incidents, invalid_rate=0.0005,
                    threats=traffic)
    total = opts.prefill_s + (opts.duration_s if opts.duration_s is not None else 10**9)
    return sim.lines(total), now.timestamp()


class SourceClock:
    """The run's "now": the arrival time of the message being fed, on the source's clock.

    The simulator's clock runs ahead of the wall clock at ``--speed`` (and through the
    prefill at full speed), so the future-date guard must be relative to it, not to
    ``time.time`` (which rejected every event once the simulator was 10 minutes ahead).
    Reading it never touches the wall clock, so each line's verdict is the same however
    fast the machine is.
    """

    def __init__(self) -> None:
        self.now = float("inf")  # set before each message is fed; no limit until then

    def __call__(self) -> float:
        return self.now


class _Stop(Exception):
    pass


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Stop


class EmbeddedJob:
    """One ``harmwatch run``: the pipeline, its metrics, the source and how it is paced."""

    def __init__(self, config: Config, opts: RunOptions) -> None:
        self.opts = opts
        self.clock = SourceClock()
        if opts.events is not None:
            self.source: Source = _file_source(opts.events)
            self.paced_from: float | None = None  # pace from the first event
            self.speed = opts.speed
            # A file is history: it is admitted exactly as `harmwatch backtest` admits it, at
            # any --speed (pacing changes when a line is fed, never its verdict).
            max_future_s: float | None = None
        else:
            self.source, self.paced_from = _simulator_source(opts)
            self.speed = opts.speed if opts.speed is not None else 20.0
            # A simulated event dated ahead of the simulator's own clock is a producer bug.
            max_future_s = MAX_FUTURE_S
        self.pipeline = Pipeline(config, max_future_s=max_future_s,
                                 clock=None if max_future_s is None else self.clock,
                                 threats=opts.threats)
        self.collector = HarmwatchCollector(config, pipelines=[self.pipeline])
        self.live = sys.stdout.isatty() if opts.live is None else opts.live
        self.view = LiveView(config, self.pipeline, opts.metrics_port)
        self.watcher = ConfigWatcher(opts.config_path, config, opts.audit_log)
        self.threat_log = ThreatLog()  # threat episodes as lines, without the live view

    def run(self) -> int:
        opts, pipeline, collector = self.opts, self.pipeline, self.collector
        view, watcher, live = self.view, self.watcher, self.live
        server = None
        if opts.metrics_port is not None:
            server, _ = start_http_server(opts.metrics_port, addr=opts.metrics_host,
                                          registry=new_registry(collector))
        signal.signal(signal.SIGTERM, _on_term)
        engine = pipeline.engine
        try:
            if live:
                from rich.live import Live

                with Live(view.render(), refresh_per_second=4, screen=False) as display:
                    self._loop(lambda: display.update(view.render()))
            else:
                self._loop(None)
            engine.flush()
            _publish(pipeline, collector, view, live, self.threat_log)
            if (opts.events is not None and not opts.exit_at_end
                    and opts.metrics_port is not None):
                print(f"replay finished: {engine.ingest.counted:,} events counted; serving "
                      f"metrics on http://{opts.metrics_host}:{opts.metrics_port}/metrics "
                      "until Ctrl-C", flush=True)
                while True:
                    time.sleep(1)
                    _reload(pipeline, collector, view, watcher, live)
        except (KeyboardInterrupt, _Stop):
            pass
        if server is not None:
            # The server's thread holds the registry and through it every detector; stopped
            # here, they are freed before the DataSketches bindings are torn down at exit
            # (nanobind reports each sketch still alive then).
            server.shutdown()
            server.server_close()
        ingest = engine.ingest
        print(f"stopped: {ingest.counted:,} events counted, {ingest.duplicates:,} duplicates, "
              f"{ingest.late:,} late, {pipeline.invalid_total:,} invalid", flush=True)
        return 0

    def _loop(self, refresh: Callable[[], None] | None) -> None:
        pipeline, collector, view, watcher = (self.pipeline, self.collector, self.view,
                                              self.watcher)
        speed, paced_from, clock = self.speed, self.paced_from, self.clock
        engine = pipeline.engine
        anchor: float | None = None  # wall clock when event time reached paced_from
        last_ui = last_reload = 0.0
        counted_at_ui = 0
        live = refresh is not None
        for arrival, raw in self.source:
            if arrival is not None:
                clock.now = arrival
            pipeline.feed(raw)
            # Paced on the source's clock where it has one, so a rejected or future-dated
            # message neither stalls the pacing nor lets the source run unpaced.
            when = engine.ingest.newest if arrival is None else arrival
            if speed and when != float("-inf"):
                if paced_from is None:
                    paced_from = when
                if when < paced_from:
                    view.phase = ("warming up: replaying history at full speed so the "
                                  "baselines are ready; incidents start when it goes live")
                else:
                    if anchor is None:
                        anchor = time.monotonic()
                        view.phase = ""
                    delay = (when - paced_from) / speed - (time.monotonic() - anchor)
                    if delay > 0:
                        time.sleep(delay)
            if engine.evaluator.transitions or engine.evaluator.rows:
                _publish(pipeline, collector, view, live, self.threat_log)
            now = time.monotonic()
            if now - last_reload >= 1.0:
                last_reload = now
                _reload(pipeline, collector, view, watcher, live)
            if now - last_ui >= 0.25:
                view.rate = (engine.ingest.counted - counted_at_ui) / max(now - last_ui, 1e-9)
                counted_at_ui, last_ui = engine.ingest.counted, now
                if refresh is not None:
                    refresh()


def run(config: Config, opts: RunOptions) -> int:
    return EmbeddedJob(config, opts).run()


def _publish(pipeline: Pipeline, collector: HarmwatchCollector, view: LiveView,
             live: bool, threat_log: ThreatLog) -> None:
    engine = pipeline.engine
    transitions = engine.evaluator.drain_transitions()
    engine.evaluator.drain_rows()
    collector.publish(engine)
    if live:
        view.note(transitions)
    else:
        log_transitions(transitions, sys.stdout)
        threat_log.write(engine.threats, sys.stdout)


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


