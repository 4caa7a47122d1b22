"""What a worker's ``/metrics`` shows: the embedded collector over this worker's areas and
partitions, plus consumer lag and merge lateness."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts import conventions as names
from alerts.metrics import HarmwatchCollector, Snapshot, snapshot_of
from signals.ingest import Tally
from signals.merge import AreaMerge, SourcePartition


@dataclass
class Counters:
    """The worker's raw counters: an :class:`alerts.metrics.EventCounters` for the collector."""

    events: Tally = field(default_factory=dict)
    invalid: dict[tuple[str, str], int] = field(default_factory=dict)
    # Table name -> snapshots refused as too large (streams.kafka.snapshots.Refusals).
    snapshots_refused: dict[str, int] = field(default_factory=dict)
    # Source snapshots written across a stall of the event loop (see IngestSide.checkpoint).
    stalled_writes: int = 0


class WorkerView(Protocol):
    """What the collector reads from a running worker at scrape time."""

    @property
    def late_panes(self) -> int: ...

    def lags(self) -> Iterator[tuple[str, int, int]]: ...

    def truncated(self) -> Iterator[tuple[str, int, int]]: ...

    def snapshots_refused(self) -> Iterator[tuple[str, int]]: ...

    @property
    def stalled_writes(self) -> int: ...


def worker_snapshot(parts: Iterable[SourcePartition], merges: Iterable[AreaMerge]) -> Snapshot:
    """Values and states of this worker's areas; the lowest watermark of its partitions."""
    parts = list(parts)
    marks = [p.ingest.watermark for p in parts if p.ingest.newest != float("-inf")]
    return snapshot_of((m.evaluator for m in merges), min(marks) if marks else None,
                       sum(p.ingest.remembered_ids for p in parts))


@dataclass(eq=False)  # registries key collectors by identity
class WorkerCollector(HarmwatchCollector):
    """The embedded collector plus consumer lag and merge lateness."""

    worker: WorkerView | None = None

    def collect(self) -> Iterator[Metric]:
        yield from super().collect()
        worker = self.worker
        if worker is None:
            return
        lag = GaugeMetricFamily(names.CONSUMER_LAG,
                                "Messages in a source partition not yet processed",
                                labels=list(names.LAG_LABELS))
        try:
            for topic, partition, n in worker.lags():
                lag.add_metric([topic, str(partition)], n)
        except Exception:  # no assignment yet, or the consumer is restarting
            pass
        yield lag
        lost = CounterMetricFamily(names.LOG_TRUNCATED,
                                   "Messages this worker will never process because the log "
                                   "no longer held them: deleted before they were read "
                                   "(retention, delete_records), or skipped as covered by a "
                                   "snapshot after the topic was re-created or lost its tail",
                                   labels=list(names.LAG_LABELS))
        for topic, partition, n in worker.truncated():
            lost.add_metric([topic, str(partition)], n)
        yield lost
        refused = CounterMetricFamily(names.SNAPSHOTS_REFUSED,
                                      "Snapshots not written because they exceed the record "
                                      "limit; the previous one stays in force, so a restart "
                                      "re-reads more of the log",
                                      labels=list(names.SNAPSHOT_LABELS))
        for table, n in worker.snapshots_refused():
            refused.add_metric([table], n)
        yield refused
        yield CounterMetricFamily(names.SNAPSHOT_WRITES_STALLED,
                                  "Source snapshots whose write was under way when this "
                                  "worker's event loop stalled past half the session "
                                  "timeout (SIGSTOP, a VM pause) or no heartbeat was "
                                  "accepted for that long (a broker away); their counts "
                                  "were exported, and if the group replaced the worker "
                                  "meanwhile its successor exports some of them again",
                                  value=worker.stalled_writes)
        yield CounterMetricFamily(names.MERGE_LATE_PANES,
                                  "Partial panes that reached the merge after it had closed "
                                  "them (a partition resumed after being declared idle)",
                                  value=worker.late_panes)
