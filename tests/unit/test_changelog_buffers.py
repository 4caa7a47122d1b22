"""Faust must not hold hundreds of superseded snapshots in its changelog buffers.

Faust's recovery service applies a table's changelog records only when its buffer holds
``standby_buffer_size`` (standby partitions) or ``recovery_buffer_size`` (a take-over)
records, 1,000 each by default. A harmwatch changelog record is a whole snapshot (up to
``SNAPSHOT_LIMIT``): held at 20k events/s, the standby buffer was a worker's RSS growth
(docs/chaos.md). The worker's tables must apply standby records one at a time and hold
few records in a take-over.
"""

from __future__ import annotations

from pathlib import Path

import faust

from streams.kafka.faust_topics import WorkerTopics
from streams.kafka.settings import SNAPSHOT_LIMIT, KafkaSettings


def test_the_worker_tables_apply_standby_records_at_once_and_hold_few_in_a_takeover(
        tmp_path: Path) -> None:
    app = faust.App("buffers-test", broker="kafka://127.0.0.1:1", store="memory://",
                    datadir=str(tmp_path))
    topics = WorkerTopics(app, KafkaSettings(broker="127.0.0.1:1"))
    for table in (topics.ingest_table, topics.merge_table):
        assert table.standby_buffer_size == 1
        # At most 64 MiB of snapshots unapplied per table in a take-over, and not the
        # value 1, for which Faust resumes the active changelog after recovery.
        assert 1 < table.recovery_buffer_size
        assert table.recovery_buffer_size * SNAPSHOT_LIMIT <= 64 * 2**20
