"""The topics and tables a worker declares to Faust.

Keys and values are ``bytes`` with the raw codec both ways: harmwatch encodes its own
messages (:mod:`signals.merge`) and snapshots (:mod:`streams.kafka.snapshots`).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TopicT

from streams.kafka.settings import INGEST_TABLE, MAX_SNAPSHOT_BYTES, MERGE_TABLE, KafkaSettings


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
                                           extra_topic_configs=big)
        self.merge_table: Any = app.Table(MERGE_TABLE, default=None, key_type=bytes,
                                          value_type=bytes, partitions=counts[MERGE_TABLE],
                                          extra_topic_configs=big)
