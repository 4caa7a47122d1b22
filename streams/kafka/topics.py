"""``harmwatch topics create``: the source, dead-letter and panes topics and the worker's
table changelogs (kafka-python admin).

Idempotent: a topic that exists with the configured partition count is left alone (its
retention is brought to the configured value); one with a different count is an error
(Faust tables and the merge rely on the counts, and Kafka cannot shrink a topic). The
changelogs are made here, not left to Faust, because a worker's readers own what Faust
assigns them, and Faust's assignor skips a topic that does not exist yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from streams.kafka.settings import MAX_SNAPSHOT_BYTES, KafkaSettings

TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    compact: bool = False

    def configs(self) -> dict[str, str]:
        if self.compact:  # a changelog: the latest snapshot per key, however old
            return {"cleanup.policy": "compact", "max.message.bytes": str(MAX_SNAPSHOT_BYTES)}
        return {"retention.ms": str(self.retention_ms)}


def wanted_topics(settings: KafkaSettings) -> list[TopicSpec]:
    specs = [TopicSpec(t, settings.partitions, settings.retention_ms)
             for t in settings.source_topics.values()]
    specs.append(TopicSpec(settings.dead_letter_topic, 1, settings.dead_letter_retention_ms))
    specs.append(TopicSpec(settings.panes_topic, settings.n_pane_partitions,
                           settings.retention_ms))
    specs.extend(TopicSpec(settings.changelog_topic(table), n, settings.retention_ms,
                           compact=True)
                 for table, n in settings.table_partitions.items())
    return specs


def quiet_kafka_logs() -> None:
    """kafka-python logs every failed connection attempt; our callers print one line."""
    logging.getLogger("kafka").setLevel(logging.CRITICAL)


# kafka-python ships no type hints: its clients are typed Any here.
def admin_client(broker: str, timeout_s: float = 10.0) -> Any:
    from kafka import KafkaAdminClient

    quiet_kafka_logs()
    return KafkaAdminClient(bootstrap_servers=broker, client_id="harmwatch-admin",
                            request_timeout_ms=int(timeout_s * 1000))


def partition_counts(admin: Any, names: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for topic in admin.describe_topics(names):
        if topic.get("error_code", 0) == 0:
            out[topic["name"]] = len(topic["partitions"])
    return out


def missing_topics(broker: str, names: list[str]) -> list[str]:
    admin = admin_client(broker)
    try:
        have = set(admin.list_topics())
    finally:
        admin.close()
    return [n for n in names if n not in have]


def create_topics(settings: KafkaSettings, timeout_s: float = 30.0) -> list[tuple[str, str]]:
    """Create what is missing; returns ``(topic, "created" | "exists")`` per topic."""
    specs = wanted_topics(settings)
    admin = admin_client(settings.broker, timeout_s)
    try:
        request = {
            s.name: {"num_partitions": s.partitions,
                     "replication_factor": settings.replication,
                     "configs": s.configs()}
            for s in specs
        }
        response = admin.create_topics(request, timeout_ms=int(timeout_s * 1000),
                                       raise_errors=False)
        codes = {t["name"]: t["error_code"] for t in response["topics"]}
        failed = {n: c for n, c in codes.items() if c not in (0, TOPIC_ALREADY_EXISTS)}
        if failed:
            from kafka.errors import for_code

            raise TopicError("; ".join(f"{n}: {for_code(c).__name__}" for n, c in failed.items()))
        counts = partition_counts(admin, [s.name for s in specs])
        out: list[tuple[str, str]] = []
        for s in specs:
            have = counts.get(s.name)
            if codes.get(s.name) == TOPIC_ALREADY_EXISTS:
                if have is not None and have != s.partitions:
                    raise TopicError(f"topic {s.name} exists with {have} partitions, config "
                                     f"says {s.partitions}; delete it or change the config")
                if not s.compact:
                    _set_retention(admin, s)
                out.append((s.name, "exists"))
            else:
                out.append((s.name, "created"))
        return out
    finally:
        admin.close()


def _set_retention(admin: Any, spec: TopicSpec) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    resource = ConfigResource(ConfigResourceType.TOPIC, spec.name,
                              configs={"retention.ms": str(spec.retention_ms)})
    admin.alter_configs([resource], incremental=True)
