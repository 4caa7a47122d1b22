"""``harmwatch backtest --partitions N``: replay a file the way N-partition workers see it.

A worker's lateness is per source partition (each partition's watermark is its own newest
event minus the allowed lateness), so it can count an event that a single-engine backtest
of the same file calls late. This replay routes each line as ``harmwatch produce`` does —
topic by ``type``, partition by kafka-python's default partitioner over the ``event_id``
key (murmur2, as the Java client) — and runs the worker's own code path
(:class:`signals.local_merge.LocalMerge`: one ``SourcePartition`` per partition, one
``AreaMerge`` per area), so its rows and episodes are exactly a worker's. The merge is
lossless and each partition's state depends only on its own order, so the result does not
depend on how the partitions would interleave. Like the single-engine backtest it has no
clock: neither idleness nor the future-date guard applies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import msgspec

from signals.config import Config
from signals.events import Rejected, decode_event
from signals.local_merge import LocalMerge
from signals.pipeline import Pipeline
from signals.records import SignalRow
from signals.threats_config import ThreatsConfig
from streams.backtest.replay import PROGRESS_MIN_BYTES, RejectWriter, sort_episodes
from streams.backtest.replay import _lines as progress_lines

_encoder = msgspec.json.Encoder()
STREAMS = ("decision", "appeal", "report")
CHUNK = 20_000  # lines routed before the partitions count them (any size gives one result)


def partition_of(key: bytes, partitions: int) -> int:
    """kafka-python's ``DefaultPartitioner`` for a keyed record."""
    from kafka.partitioner.default import murmur2

    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def sources(partitions: int) -> list[str]:
    return [f"{s}:{p}" for s in STREAMS for p in range(partitions)]


def _lines(path: Path, stack: ExitStack) -> Iterator[bytes]:
    handle = stack.enter_context(path.open("rb", buffering=1 << 20))
    size = os.fstat(handle.fileno()).st_size
    show = sys.stderr.isatty() and size > PROGRESS_MIN_BYTES
    for raw in progress_lines(handle, size) if show else handle:
        if raw.strip():
            yield raw.rstrip(b"\r\n")


def run_partitioned(config: Config, events: Path, partitions: int,
                    signals_out: Path | None = None, rejects_out: Path | None = None,
                    keep_rows: list[SignalRow] | None = None,
                    threats: ThreatsConfig | None = None) -> Pipeline:
    """Replay ``events`` through ``partitions`` partitions per stream. Returns a
    :class:`Pipeline` whose engine holds the merged episodes and the partitions' summed
    counters, so the reports read it as they read a single-engine backtest. Raises
    OSError."""
    merge = LocalMerge(config, sources(partitions), threats=threats)
    offsets = dict.fromkeys(merge.parts, 0)
    newest = float("-inf")
    with ExitStack() as stack:
        rejects = None
        if rejects_out is not None:
            rejects = RejectWriter(stack.enter_context(rejects_out.open("wb")))
        pipeline = Pipeline(config, on_reject=rejects)
        out = stack.enter_context(signals_out.open("wb")) if signals_out else None
        batch: dict[str, list[tuple[int, bytes]]] = {}
        for line, raw in enumerate(_lines(events, stack), 1):
            event = decode_event(raw)
            if isinstance(event, Rejected):
                if rejects is not None:
                    rejects.line = line
                pipeline.reject(event, raw)
                continue
            newest = max(newest, event.occurred_at.timestamp())
            src = (f"{type(event).__name__.lower()}:"
                   f"{partition_of(event.event_id.encode(), partitions)}")
            batch.setdefault(src, []).append((offsets[src], raw))
            offsets[src] += 1
            if line % CHUNK == 0:
                _count(merge, batch, out, keep_rows)
                batch = {}
        _count(merge, batch, out, keep_rows)
        if newest != float("-inf"):  # the end of the file, as `produce --final-watermark`
            merge.watermark((int(newest // config.pane_s) + 1) * config.pane_s)
        write_rows(merge, out, keep_rows)
    return summed_pipeline(pipeline, merge)


def summed_pipeline(pipeline: Pipeline, merge: LocalMerge) -> Pipeline:
    """``pipeline`` with the merged episodes and the partitions' summed counters, so the
    reports read it as they read a single-engine backtest."""
    engine = pipeline.engine
    engine.evaluator.episodes = sort_episodes(
        e for m in merge.merges.values()
        for e in [*m.evaluator.episodes, *(m.threats.episodes if m.threats else [])])
    parts = [p.ingest for p in merge.parts.values()]
    engine.ingest.counted = sum(i.counted for i in parts)
    engine.ingest.duplicates = sum(i.duplicates for i in parts)
    engine.ingest.late = sum(i.late for i in parts)
    return pipeline


def _count(merge: LocalMerge, batch: dict[str, list[tuple[int, bytes]]],
           out: IO[bytes] | None, keep_rows: list[SignalRow] | None) -> None:
    for src, records in batch.items():
        part = merge.parts[src]
        part.feed_batch(records, merge.tally)
        merge.publish(part, part.take_messages())
    write_rows(merge, out, keep_rows)


def write_rows(merge: LocalMerge, out: IO[bytes] | None, keep: list[SignalRow] | None) -> None:
    rows = [r for m in merge.merges.values() for r in m.evaluator.drain_rows()]
    if keep is not None:
        keep.extend(r for r in rows if r.market is None)
    if rows and out is not None:
        out.write(b"\n".join(_encoder.encode(r) for r in rows) + b"\n")
