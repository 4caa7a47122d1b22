"""Replay the source partitions' logs as a worker read them: the live semantics, exactly.

A file backtest (``--partitions N``) cannot know two things the live path decides by the
log: the **watermark records** a worker's idle check wrote into quiet partitions (an event
read after one, older than the group watermark it carried, is late live and may be counted
by the file backtest), and each record's **Kafka timestamp**, the future-date guard's
reference. Both are in the log, so a replay of the logs themselves — each partition's
records in offset order, watermark records applied at their offsets, the guard judged
against each record's timestamp, as ``streams.kafka.ingest_side`` does — gives a worker's
rows, episodes and counters exactly, whatever crashed or moved on the way. Nothing is
closed beyond the last watermark in the logs: what the workers would have written by then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from signals.admission import MAX_FUTURE_S
from signals.config import Config
from signals.local_merge import LocalMerge
from signals.pipeline import Pipeline
from signals.records import SignalRow
from signals.threats_config import ThreatsConfig
from streams.backtest.partitioned import summed_pipeline, write_rows


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record of a source partition's log."""

    offset: int
    value: bytes
    sent_at: float  # the record's Kafka timestamp, seconds
    watermark: bytes | None = None  # the watermark header's value of a control record


def replay_logs(config: Config, sources: Mapping[str, str],
                batches: Iterable[tuple[str, Sequence[LogRecord]]],
                signals_out: Path | None = None, keep_rows: list[SignalRow] | None = None,
                threats: ThreatsConfig | None = None) -> Pipeline:
    """``sources``: each source partition's stream (``decision``, ...); ``batches``: runs of
    one source's records, each source's in offset order (how the
    sources interleave does not change the result). Returns a :class:`Pipeline` as
    :func:`streams.backtest.partitioned.run_partitioned` does. Raises OSError."""
    merge = LocalMerge(config, list(sources), threats=threats, max_future_s=MAX_FUTURE_S)
    pipeline = Pipeline(config)
    with ExitStack() as stack:
        out = stack.enter_context(signals_out.open("wb")) if signals_out else None
        for source, records in batches:
            _feed(merge, pipeline, source, sources[source], records)
            write_rows(merge, out, keep_rows)
    return summed_pipeline(pipeline, merge)


def _feed(merge: LocalMerge, pipeline: Pipeline, source: str, stream: str,
          records: Sequence[LogRecord]) -> None:
    part = merge.parts[source]
    run: list[LogRecord] = []
    for record in [*records, None]:
        if record is not None and record.watermark is None:
            run.append(record)
            continue
        if run:
            rejected = part.feed_sent(((r.offset, r.value, r.sent_at) for r in run),
                                      merge.tally)
            raws = {r.offset: r.value for r in run} if rejected else {}
            for offset, result in rejected:
                pipeline.reject(result, raws[offset], stream)
            run = []
        if record is not None:
            assert record.watermark is not None
            try:
                part.advance(record.offset, float(record.watermark))
            except ValueError:  # as the worker: a bad watermark record moves nothing
                part.skip(record.offset)
        merge.publish(part, part.take_messages())
