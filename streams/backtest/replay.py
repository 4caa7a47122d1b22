"""``harmwatch backtest``: replay a JSON Lines file through the engine (SIGNALS.md)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, BinaryIO

import msgspec

from signals.config import SEVERITIES, Config
from signals.engine import Engine
from signals.events import Rejected
from signals.lines import decode_chunks
from signals.pipeline import Pipeline
from signals.records import Episode, SignalRow
from signals.threats_config import ThreatsConfig

_encoder = msgspec.json.Encoder()
# Files bigger than this get a progress bar on a terminal; smaller ones finish in a blink.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024


class RejectWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.line = 0

    def __call__(self, rejected: Rejected, raw: bytes) -> None:
        record = {"line": self.line, "event_id": rejected.event_id, "reason": rejected.reason}
        self.out.write(_encoder.encode(record) + b"\n")


def _lines(handle: BinaryIO, size: int) -> Iterator[bytes]:
    """The file's lines under a progress bar (a generator layer only when one is shown)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("replaying"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("replay", total=size)
        done = 0
        for raw in handle:
            done += len(raw)
            if done & 0xFFFFF < len(raw):  # update about once per MiB, not per line
                bar.update(task, completed=done)
            yield raw


class Coverage:
    """The event time a replay covered: the first window end less one pane (where the data
    began, floored to the pane) to the last window end.

    Pages per day divide by this. Window *starts* would overstate it: the first hopping
    window reaches back a whole window before the first event.
    """

    def __init__(self, pane_s: int) -> None:
        self.pane = dt.timedelta(seconds=pane_s)
        self.start: dt.datetime | None = None
        self.end: dt.datetime | None = None

    def add(self, rows: list[SignalRow]) -> None:
        if not rows:
            return
        first = min(r.window_end for r in rows) - self.pane
        last = max(r.window_end for r in rows)
        self.start = first if self.start is None else min(self.start, first)
        self.end = last if self.end is None else max(self.end, last)

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime]:
        if self.start is None or self.end is None:
            zero = dt.datetime.fromtimestamp(0, dt.UTC)
            return zero, zero
        return self.start, self.end


RowFilter = Callable[[SignalRow], bool]


def run_backtest(config: Config, events: Path, signals_out: Path | None = None,
                 rejects_out: Path | None = None, progress: bool | None = None,
                 keep_rows: list[SignalRow] | None = None,
                 coverage: Coverage | None = None, keep_only: RowFilter | None = None,
                 threats: ThreatsConfig | None = None) -> Pipeline:
    """Replay ``events``; write signal rows and rejects as they come. Raises OSError.

    ``keep_rows`` collects the area-level rows (those ``keep_only`` accepts, when given);
    ``coverage`` learns the event time the windows covered; ``threats``: also run the
    emergent-threat detectors, their episodes joined to the evaluator's (by start).
    """
    with ExitStack() as stack:
        # A large buffer: the default 8 KiB made reading a tenth of a replay's time.
        handle = stack.enter_context(events.open("rb", buffering=1 << 20))
        rejects = None
        if rejects_out is not None:
            rejects = RejectWriter(stack.enter_context(rejects_out.open("wb")))
        signals = stack.enter_context(signals_out.open("wb")) if signals_out else None
        pipeline = Pipeline(config, on_reject=rejects, threats=threats)
        engine = pipeline.engine
        size = os.fstat(handle.fileno()).st_size
        if progress is None:
            progress = sys.stderr.isatty() and size > PROGRESS_MIN_BYTES
        invalid = pipeline.invalid

        def reject(line: int, rejected: Rejected, raw: bytes) -> None:
            key = ("unknown", rejected.reason)
            invalid[key] = invalid.get(key, 0) + 1
            if rejects is not None:
                rejects.line = line
                rejects(rejected, raw)

        lines: Iterator[bytes] = _lines(handle, size) if progress else iter(handle)
        ingest_batch = engine.ingest.ingest_batch
        pending = engine.evaluator.rows
        # Chunks keep the rows written as windows close, so memory stays flat however long
        # the file is; the engine's batch loop runs once per chunk, not once per event.
        for batch in decode_chunks(lines, reject, CHUNK):
            ingest_batch(batch)
            if pending:
                _write_rows(engine, signals, keep_rows, coverage, keep_only)
        engine.flush()
        _write_rows(engine, signals, keep_rows, coverage, keep_only)
    if engine.threats is not None:
        engine.evaluator.episodes = sort_episodes(
            [*engine.evaluator.episodes, *engine.threats.episodes])
    return pipeline


def sort_episodes(episodes: Iterable[Episode]) -> list[Episode]:
    """By start, then as one evaluator lists what starts together: warn before critical
    (the same order whether one engine or many areas' merges raised them)."""
    return sorted(episodes, key=lambda e: (e.started_at, e.policy_area, e.market or "",
                                           e.signal, SEVERITIES.index(e.severity)))


CHUNK = 256  # small enough that a chunk's events are still in cache when counted


def _write_rows(engine: Engine, out: IO[bytes] | None, keep: list[SignalRow] | None,
                coverage: Coverage | None = None, keep_only: RowFilter | None = None) -> None:
    rows = engine.evaluator.drain_rows()
    if coverage is not None:
        coverage.add(rows)
    if keep is not None:
        keep.extend(r for r in rows if r.market is None and (keep_only is None or keep_only(r)))
    if out is not None and rows:
        out.write(b"\n".join(_encoder.encode(r) for r in rows) + b"\n")
