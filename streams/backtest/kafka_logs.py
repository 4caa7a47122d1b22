"""Read the source topics' partition logs off a broker, for ``backtest --from-kafka``.

Every partition of the three source topics from its first retained offset to the end it
had when the read began (records produced meanwhile are left for the next run), watermark
control records included: what :func:`streams.backtest.log_replay.replay_logs` needs to
reproduce the workers. Records the broker no longer retains were counted live and are not
replayed; the text report's first line says from which offsets the logs were read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from signals.pane_messages import WATERMARK_HEADER
from streams.backtest.log_replay import LogRecord
from streams.kafka.settings import KafkaSettings

POLL_MS = 1000
MAX_POLL_RECORDS = 20_000
MAX_EMPTY_POLLS = 30  # a broker that returns nothing for this many polls is not serving


@dataclass
class SourceLogs:
    """Each source partition (``topic:partition``) with its stream and its offset range."""

    streams: dict[str, str]
    starts: dict[str, int] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.ends[s] - self.starts[s] for s in self.streams)


class LogReadError(Exception):
    """The broker could not be read to the end offsets (the message says why)."""


def _watermark(headers: Any) -> bytes | None:
    for key, value in headers or ():
        if key == WATERMARK_HEADER:
            return bytes(value)
    return None


Runs = Iterator[tuple[str, list[LogRecord]]]


def open_source_logs(settings: KafkaSettings) -> tuple[SourceLogs, Runs]:
    """The partitions found and an iterator of their records, in runs of one partition
    in offset order. Raises :class:`LogReadError` (a missing topic, a broker that stops
    answering)."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from streams.kafka.broker_check import broker_reachable

    if not broker_reachable(settings.broker):  # seconds, not the client's 30 s bootstrap
        raise LogReadError(f"no Kafka broker answers at {settings.broker} (start it, or "
                           "give --broker HOST:PORT)")
    try:
        consumer = KafkaConsumer(bootstrap_servers=settings.broker, group_id=None,
                                 enable_auto_commit=False, client_id="harmwatch-backtest",
                                 max_poll_records=MAX_POLL_RECORDS,
                                 request_timeout_ms=30_000)
    except KafkaError as exc:
        raise LogReadError(f"cannot reach the broker at {settings.broker}: {exc}") from None
    try:
        logs = SourceLogs({})
        tps: dict[TopicPartition, str] = {}
        for stream, topic in settings.source_topics.items():
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise LogReadError(f"topic {topic} does not exist on {settings.broker} "
                                   "(check --topic-prefix and --broker)")
            for p in sorted(found):
                tps[TopicPartition(topic, p)] = f"{topic}:{p}"
                logs.streams[f"{topic}:{p}"] = stream
        consumer.assign(list(tps))
        for tp, offset in consumer.beginning_offsets(list(tps)).items():
            logs.starts[tps[tp]] = offset
        for tp, offset in consumer.end_offsets(list(tps)).items():
            logs.ends[tps[tp]] = offset
        consumer.seek_to_beginning()
    except BaseException:
        consumer.close()
        raise
    return logs, _records(consumer, tps, logs)


def _records(consumer: Any, tps: dict[Any, str],
             logs: SourceLogs) -> Runs:
    try:
        todo = {tp for tp, src in tps.items() if logs.ends[src] > logs.starts[src]}
        consumer.pause(*(tp for tp in tps if tp not in todo))
        empty = 0
        while todo:
            polled = consumer.poll(timeout_ms=POLL_MS)
            empty = 0 if polled else empty + 1
            if empty >= MAX_EMPTY_POLLS:
                raise LogReadError(f"the broker returned nothing for {empty} s with "
                                   f"{len(todo)} partitions not read to their end")
            for tp, messages in polled.items():
                src = tps[tp]
                end = logs.ends[src]
                run = [LogRecord(m.offset, m.value or b"", m.timestamp / 1000.0,
                                 _watermark(m.headers))
                       for m in messages if m.offset < end]
                if run:
                    yield src, run
                if tp in todo and consumer.position(tp) >= end:
                    todo.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()
