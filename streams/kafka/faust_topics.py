"""The topics and tables a worker declares to Faust.

Keys and values are ``bytes`` with the raw codec both ways: harmwatch encodes its own
messages (:mod:`signals.merge`) and snapshots (:mod:`streams.kafka.snapshots`).

**Changelog records are applied as they come, not held in batches of 1,000.** Faust's
recovery service appends each changelog record it reads to a buffer per table and applies
the buffer to the table only when it holds ``standby_buffer_size`` records (standby
partitions, read all the time) or ``recovery_buffer_size`` (a take-over), both 1,000 by
default, with no flush on a timer. A harmwatch changelog record is a whole snapshot of a
partition or an area (up to 16 MiB, several MiB for an area), written every 0.5 s, so
the standby buffer was the worker's RSS growth held at 20k events/s (docs/chaos.md,
"RSS growth found"): hundreds of superseded snapshots, 350 MiB after 15 minutes and
rising to the 1,000th record. The in-memory store's apply is a dict update, so applying
each standby record at once costs nothing; a take-over keeps a few per batch
(``recovery_buffer_size`` 1 has a special case in Faust that resumes active changelog
partitions after recovery, which the readers do not want).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TopicT

from streams.kafka.settings import INGEST_TABLE, MAX_SNAPSHOT_BYTES, MERGE_TABLE, KafkaSettings

# Changelog records (snapshots) Faust may hold unapplied per table, see above.
STANDBY_BUFFER = 1
RECOVERY_BUFFER = 4


class WorkerTopics:
    def __init__(self, app: faust.App, settings: KafkaSettings) -> None:
        self.sources: TopicT = app.topic(*settings.source_topics.values(), key_type=bytes,
                                         value_type=bytes, key_serializer="raw",
                                         value_serializer="raw")
        self.panes: TopicT = app.topic(settings.panes_topic, key_type=bytes,
                                       value_type=bytes, key_serializer="raw",
                                       value_serializer="raw",
                                       partitions=settings.n_pane_partitions)
        self.dead_letter: TopicT = app.topic(settings.dead_letter_topic, key_type=bytes,
                                             value_type=bytes, key_serializer="raw",
                                             value_serializer="raw")
        # `topics create` makes the changelogs too: the readers' ownership comes from their
        # assignment, and Faust's assignor skips a topic it cannot see yet.
        big = {"max.message.bytes": str(MAX_SNAPSHOT_BYTES)}
        counts = settings.table_partitions
        self.ingest_table: Any = app.Table(INGEST_TABLE, default=None, key_type=bytes,
                                           value_type=bytes, partitions=counts[INGEST_TABLE],
                                           extra_topic_configs=big,
                                           standby_buffer_size=STANDBY_BUFFER,
                                           recovery_buffer_size=RECOVERY_BUFFER)
        self.merge_table: Any = app.Table(MERGE_TABLE, default=None, key_type=bytes,
                                          value_type=bytes, partitions=counts[MERGE_TABLE],
                                          extra_topic_configs=big,
                                          standby_buffer_size=STANDBY_BUFFER,
                                          recovery_buffer_size=RECOVERY_BUFFER)
