"""``harmwatch produce``: send a JSON Lines file to the source topics (kafka-python).

Each valid line goes to the topic of its ``type``, keyed by ``event_id`` (so redeliveries of
an id land in the same partition, where dedupe happens). A line that is not a valid event
goes, unchanged, to ``--invalid-to`` (default: the decisions topic), so that a worker
dead-letters it with the reason exactly as it would a bad message from a real producer.

``--final-watermark`` ends with one control message per source partition (empty value,
header ``harmwatch-watermark`` = the end of the pane that holds the newest event): workers
then close every pane up to there, as a backtest does at the end of its file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signals.events import Rejected, decode_event
from signals.merge import WATERMARK_HEADER
from streams.kafka.settings import KafkaSettings
from streams.kafka.topics import quiet_kafka_logs

TOPIC_OF_TYPE = {"Decision": "decision", "Appeal": "appeal", "Report": "report"}


@dataclass
class ProduceStats:
    sent: int = 0
    invalid: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    newest: float | None = None
    watermark: int | None = None
    seconds: float = 0.0


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                yield raw.rstrip(b"\r\n")


def make_producer(broker: str) -> Any:  # a kafka-python KafkaProducer (no type hints)
    from kafka import KafkaProducer

    quiet_kafka_logs()
    return KafkaProducer(bootstrap_servers=broker, client_id="harmwatch-produce",
                         linger_ms=20, batch_size=512 * 1024, acks="all",
                         max_request_size=4 * 1024 * 1024)


def produce_file(settings: KafkaSettings, events: Path, *, rate: float | None = None,
                 invalid_to: str | None = None, final_watermark: bool = False,
                 pane_s: int = 60, progress: bool | None = None) -> ProduceStats:
    topics = settings.source_topics
    bad_topic = invalid_to or topics["decision"]
    stats = ProduceStats()
    total = sum(1 for _ in _lines(events))
    if progress is None:
        progress = sys.stderr.isatty()
    producer = make_producer(settings.broker)
    started = time.monotonic()
    try:
        bar = None
        if progress:
            from rich.progress import Progress

            bar = Progress(transient=True)
            bar.start()
            task = bar.add_task("producing", total=total)
        for i, raw in enumerate(_lines(events), 1):
            event = decode_event(raw)
            if isinstance(event, Rejected):
                key = event.event_id.encode() if event.event_id else None
                topic = bad_topic
                stats.invalid += 1
            else:
                key = event.event_id.encode()
                topic = topics[TOPIC_OF_TYPE[type(event).__name__]]
                ts = event.occurred_at.timestamp()
                if stats.newest is None or ts > stats.newest:
                    stats.newest = ts
            producer.send(topic, value=raw, key=key)
            stats.per_topic[topic] = stats.per_topic.get(topic, 0) + 1
            stats.sent += 1
            if rate and i % 100 == 0:
                ahead = i / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if bar is not None and i % 2000 == 0:
                bar.update(task, completed=i)
        if final_watermark and stats.newest is not None:
            stats.watermark = (int(stats.newest // pane_s) + 1) * pane_s
            send_watermark(producer, settings, stats.watermark)
        producer.flush(timeout=120)
        if bar is not None:
            bar.stop()
    finally:
        producer.close(timeout=30)
    stats.seconds = time.monotonic() - started
    return stats


def send_watermark(producer: Any, settings: KafkaSettings, watermark: float) -> None:
    """Tell every source partition that no event before ``watermark`` will come."""
    header = [(WATERMARK_HEADER, repr(float(watermark)).encode())]
    for topic in settings.source_topics.values():
        parts = producer.partitions_for(topic) or set(range(settings.partitions))
        for p in sorted(parts):
            producer.send(topic, value=b"", partition=p, headers=header)
