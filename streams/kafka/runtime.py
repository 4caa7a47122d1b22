"""A worker's in-memory state: the source side and the panes side, and their metrics.

No Faust type reaches :mod:`signals.merge`; the readers (:mod:`streams.kafka.reader`) drive
the two sides, :mod:`streams.kafka.app` wires them to Faust.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import faust
from faust.types import TP

from alerts.metrics import new_registry
from signals.config import Config
from signals.merge import AreaMerge, SourcePartition
from signals.pane_messages import NEG_INF, group_watermark
from signals.records import Episode
from signals.tags import tag_spec
from streams.kafka.assignment_gate import AssignmentGate
from streams.kafka.faust_topics import WorkerTopics
from streams.kafka.ingest_side import IngestSide
from streams.kafka.merge_side import MergeSide
from streams.kafka.options import WorkerOptions
from streams.kafka.reader import DirectReader
from streams.kafka.reload import WorkerReload
from streams.kafka.settings import KafkaSettings
from streams.kafka.worker_metrics import Counters, WorkerCollector, worker_snapshot


def worker_group_watermark(merges: Sequence[AreaMerge], parts: Mapping[TP, SourcePartition],
                           marked: Iterable[TP], source: str) -> float | None:
    """What a quiet source of this worker may be advanced to: from the area merges it holds
    (every area hears from every source), the lowest; without any, from its own source
    partitions only (``marked``: those last moved by a watermark record)."""
    if merges:
        marks = [m.group_watermark(source) for m in merges]
        known = [m for m in marks if m is not None]
        return min(known) if len(known) == len(marks) else None
    frontiers = {p.source: p.announced for p in parts.values() if p.announced != NEG_INF}
    quiet = {parts[tp].source for tp in marked if tp in parts}
    return group_watermark(frontiers, [p.source for p in parts.values()], quiet, source)


class Runtime:
    def __init__(self, app: faust.App, config: Config, settings: KafkaSettings,
                 opts: WorkerOptions) -> None:
        self.app = app
        self.config = config
        self.settings = settings
        self.opts = opts
        self.topics = WorkerTopics(app, settings)
        self.counters = Counters()
        self.assignments = AssignmentGate()
        self.collector = WorkerCollector(config, pipelines=[self.counters],
                                         worker=self)
        self.registry = new_registry(self.collector)
        spec = None if opts.threats is None else tag_spec(opts.threats)
        self.ingest = IngestSide(app, config, settings, self.topics, self.counters, spec)
        self.merge = MergeSide(config, settings, self.topics.merge_table, opts,
                               on_closed=self.refresh_metrics,
                               refused=self.counters.snapshots_refused)
        self.ingest.group_of = self.group_watermark
        self.readers: list[DirectReader] = []  # each released on a revoke
        self.reload = WorkerReload(opts.config_path, config, opts.audit_log, self.reconfigure)

    def reconfigure(self, config: Config) -> None:
        """Accepted thresholds (see :mod:`streams.kafka.reload`) to the merges and /metrics."""
        self.config = config
        self.merge.reconfigure(config)
        self.collector.config = config
        self.refresh_metrics()

    def group_watermark(self, source: str) -> float | None:
        return worker_group_watermark([m for m, _ in self.merge.merges.values()],
                                      self.ingest.parts, self.ingest.marked, source)

    def refresh_metrics(self) -> None:
        merges = [m for m, _ in self.merge.merges.values()]
        self.collector.snapshot = worker_snapshot(self.ingest.parts.values(), merges)
        detectors = [m.threats for m in merges if m.threats is not None]
        if detectors:
            self.collector.publish_threats(detectors)

    @property
    def late_panes(self) -> int:
        return self.merge.late_panes

    def lags(self) -> Iterator[tuple[str, int, int]]:
        return self.ingest.lags()

    def truncated(self) -> Iterator[tuple[str, int, int]]:
        for reader in self.readers:
            for tp, n in sorted(reader.truncated.items()):
                yield tp.topic, tp.partition, n

    def snapshots_refused(self) -> Iterator[tuple[str, int]]:
        yield from sorted(self.counters.snapshots_refused.items())

    @property
    def stalled_writes(self) -> int:
        return self.counters.stalled_writes

    def episodes(self) -> list[Episode]:
        return self.merge.episodes()

    def forget(self, revoked: Iterable[TP]) -> None:
        """Partitions moved away: drop their in-memory state (the tables have it)."""
        revoked = set(revoked)
        self.ingest.forget(revoked)
        self.merge.forget(revoked)
