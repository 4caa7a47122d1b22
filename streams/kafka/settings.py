"""The ``kafka:`` settings of the streaming path: broker, topic names, partitions, retention.

Read from ``config/kafka.yaml`` (or ``$HARMWATCH_KAFKA_CONFIG``), then overridden by
environment variables (``HARMWATCH_BROKER``, ``HARMWATCH_TOPIC_PREFIX``,
``HARMWATCH_APP_ID``, ``HARMWATCH_PARTITIONS``) and finally by command-line flags. The
thresholds schema (signals/config.py) is not touched: this file is about transport only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signals.config import ConfigError
from signals.events import STREAMS
from streams import paths

REPO_CONFIG = paths.CONFIG_DIR
DAY_MS = 24 * 3600 * 1000
# A partition's snapshot is one record (so it is atomic). Its size grows with the events of
# its open panes (about 2 bytes each, decision latencies mostly): ~0.9 MB per partition at
# 50k events/s over 18 source partitions, so records may exceed Kafka's 1 MB default.
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
# The group's session timeout and heartbeat (Faust's broker_session_timeout and
# broker_heartbeat_interval): a worker silent this long is dropped from the group.
SESSION_TIMEOUT_S = 10.0
HEARTBEAT_S = 2.0
# The largest snapshot written: the record's key and the record batch around it must fit
# too (max.message.bytes limits the batch); 64 KiB is far more than they take.
SNAPSHOT_LIMIT = MAX_SNAPSHOT_BYTES - 64 * 1024


class KafkaSettings(BaseModel):
    """Frozen: a worker's view of its topics never changes while it runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    broker: str = "127.0.0.1:9092"
    app_id: str = Field(default="harmwatch", pattern=r"^[A-Za-z0-9._-]+$")
    topic_prefix: str = Field(default="harmwatch.", pattern=r"^[A-Za-z0-9._-]*$")
    partitions: int = Field(default=6, ge=1, le=1024)
    # The internal topic of closed panes (keyed by policy area). Same count as the sources
    # by default, so Faust assigns pane partition N with source partition N.
    pane_partitions: int | None = Field(default=None, ge=1, le=1024)
    replication: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * DAY_MS, ge=60_000)
    dead_letter_retention_ms: int = Field(default=30 * DAY_MS, ge=60_000)
    # A caught-up source partition with no message for this long gets a watermark record
    # (the group's watermark) written into it, so the merge does not wait for it (0: never).
    idle_after_s: float = Field(default=60.0, ge=0)
    # A snapshot (one record) over this many bytes is not written; the previous one stays
    # (streams.kafka.snapshots). Lower it when the broker caps max.message.bytes below the
    # 16 MiB the changelog topics ask for.
    snapshot_max_bytes: int = Field(default=SNAPSHOT_LIMIT, ge=1024, le=SNAPSHOT_LIMIT)
    # How often a source partition that changed is snapshotted. Event counters reach
    # /metrics only once a written snapshot covers them (streams.kafka.exact_counts), so
    # this is most of the produce -> /metrics latency; each snapshot is one record per
    # changed partition to the ingest table's changelog.
    snapshot_every_s: float = Field(default=0.5, gt=0, le=60)
    batch_max: int = Field(default=10_000, ge=1)
    batch_within_s: float = Field(default=0.2, gt=0)

    def topic(self, name: str) -> str:
        """Full topic name: ``decision`` -> ``harmwatch.decisions``."""
        plural = {"decision": "decisions", "appeal": "appeals", "report": "reports"}
        return self.topic_prefix + plural.get(name, name)

    @property
    def source_topics(self) -> dict[str, str]:
        """Stream (the event ``type``) -> topic name."""
        return {s: self.topic(s) for s in STREAMS}

    @property
    def dead_letter_topic(self) -> str:
        return self.topic("deadletter")

    @property
    def panes_topic(self) -> str:
        return self.topic("panes")

    @property
    def n_pane_partitions(self) -> int:
        return self.pane_partitions or self.partitions

    def changelog_topic(self, table: str) -> str:
        """Faust's name for a table's changelog (``<app_id>-<table>-changelog``)."""
        return f"{self.app_id}-{table}-changelog"

    @property
    def table_partitions(self) -> dict[str, int]:
        """The worker's tables and their partition counts (those of the topics they
        hold the state of)."""
        return {INGEST_TABLE: self.partitions, MERGE_TABLE: self.n_pane_partitions}

    def sources(self) -> list[str]:
        """Every source partition the merged view waits for: ``topic:partition``."""
        return [f"{t}:{p}" for t in self.source_topics.values() for p in range(self.partitions)]


INGEST_TABLE = "ingest-state"
MERGE_TABLE = "merge-state"

ENV = {
    "HARMWATCH_BROKER": "broker",
    "HARMWATCH_TOPIC_PREFIX": "topic_prefix",
    "HARMWATCH_APP_ID": "app_id",
    "HARMWATCH_PARTITIONS": "partitions",
}


def default_path() -> Path:
    env = os.environ.get("HARMWATCH_KAFKA_CONFIG")
    return Path(env) if env else REPO_CONFIG / paths.KAFKA_FILE


def load_kafka_settings(path: Path | None = None, **overrides: Any) -> KafkaSettings:
    """File (``kafka:`` section), then ``HARMWATCH_*`` env, then non-None ``overrides``."""
    data: dict[str, Any] = {}
    file = path or default_path()
    if path is not None or file.is_file():
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError([f"{file}: cannot read: {exc}"]) from None
        section = loaded.get("kafka") if isinstance(loaded, dict) else None
        if not isinstance(section, dict):
            raise ConfigError([f"{file}: needs a `kafka:` mapping"])
        data.update(section)
    for var, name in ENV.items():
        if os.environ.get(var):
            data[name] = os.environ[var]
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return KafkaSettings.model_validate(data)
    except ValidationError as exc:
        errors = [f"{file}: kafka.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                  for e in exc.errors()]
        raise ConfigError(errors) from None
