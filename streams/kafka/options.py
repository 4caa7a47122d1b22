"""How one ``harmwatch worker`` process serves and writes (not how it reads Kafka: that is
:mod:`streams.kafka.settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from signals.threats_config import ThreatsConfig
from streams.ports import DEFAULT_WORKER_PORT


@dataclass(frozen=True)
class WorkerOptions:
    web_port: int = DEFAULT_WORKER_PORT
    web_host: str = "127.0.0.1"
    signals_out: Path | None = None
    episodes_out: Path | None = None
    episodes_log: Path | None = None  # every episode appended once when it closes
    config_path: Path | None = None  # the thresholds file to watch for hot reloads
    audit_log: Path | None = None  # accepted and refused configs (streams.governance)
    loglevel: str = "WARNING"
    threats: ThreatsConfig | None = None  # the emergent-threat detectors (docs/threats.md)
