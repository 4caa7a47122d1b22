"""A worker's in-memory state: the source side and the panes side, and their metrics.

No Faust type reaches :mod:`signals.merge`; the readers (:mod:`streams.kafka.reader`) drive
the two sides, :mod:`streams.kafka.app` wires them to Faust.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import faust
from faust.types import TP

from alerts.metrics import new_registry
from signals.config import Config
from signals.records import Episode
from streams.kafka.faust_topics import WorkerTopics
from streams.kafka.ingest_side import IngestSide
from streams.kafka.merge_side import MergeSide
from streams.kafka.options import WorkerOptions
from streams.kafka.reader import DirectReader
from streams.kafka.settings import KafkaSettings
from streams.kafka.worker_metrics import Counters, WorkerCollector, worker_snapshot


class Runtime:
    def __init__(self, app: faust.App, config: Config, settings: KafkaSettings,
                 opts: WorkerOptions) -> None:
        self.app = app
        self.config = config
        self.settings = settings
        self.opts = opts
        self.topics = WorkerTopics(app, settings)
        self.counters = Counters()
        self.collector = WorkerCollector(config, pipelines=[self.counters],
                                         worker=self)
        self.registry = new_registry(self.collector)
        self.ingest = IngestSide(app, config, settings, self.topics, self.counters)
        self.merge = MergeSide(config, settings, self.topics.merge_table, opts,
                               on_closed=self.refresh_metrics)
        self.readers: list[DirectReader] = []  # each released on a revoke

    def refresh_metrics(self) -> None:
        self.collector.snapshot = worker_snapshot(
            self.ingest.parts.values(), (m for m, _ in self.merge.merges.values()))

    @property
    def late_panes(self) -> int:
        return self.merge.late_panes

    def lags(self) -> Iterator[tuple[str, int, int]]:
        return self.ingest.lags()

    def truncated(self) -> Iterator[tuple[str, int, int]]:
        for reader in self.readers:
            for tp, n in sorted(reader.truncated.items()):
                yield tp.topic, tp.partition, n

    def episodes(self) -> list[Episode]:
        return self.merge.episodes()

    def forget(self, revoked: Iterable[TP]) -> None:
        """Partitions moved away: drop their in-memory state (the tables have it)."""
        revoked = set(revoked)
        self.ingest.forget(revoked)
        self.merge.forget(revoked)
