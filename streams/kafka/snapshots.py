"""Table snapshots: the state of one source partition or one policy area as one record.

A snapshot is written to the table's in-memory store and to its changelog with the
partition the state belongs to (``send_changelog``), not the one Faust would hash the key
to: ownership of state follows the partition of the topic it was read from. One record per
key keeps a snapshot atomic.

A snapshot too large for one record (``KafkaSettings.snapshot_max_bytes``, at most
:data:`streams.kafka.settings.SNAPSHOT_LIMIT`) is refused before it is sent:
the producer would reject it, which crashes Faust's producer task and the worker, and a
restarted worker would rebuild the same state and crash again. The table keeps the last
snapshot that fitted (the log still holds what came after it), so the worker keeps running
and a restart only re-reads more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any, Protocol

import msgspec

from signals.snapshots import snapshot_size
from streams.kafka.settings import SNAPSHOT_LIMIT

log = logging.getLogger("harmwatch.worker")
# Above this a snapshot still fits (SNAPSHOT_LIMIT), but it is time to add partitions.
WARN_SNAPSHOT_BYTES = 4 * 1024 * 1024
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
_warned: set[str] = set()


class StateTable(Protocol):
    """What of a Faust ``Table`` the snapshots use."""

    @property
    def data(self) -> MutableMapping[Any, Any]: ...

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> Any: ...


def load_state(table: StateTable, key: str) -> dict[str, Any] | None:
    """The last snapshot of ``key``, or None when there is none."""
    saved = table.data.get(key.encode())
    if not saved:
        return None
    state: dict[str, Any] = _decode(saved)
    return state


def save_state(table: StateTable, key: str, partition: int, state: dict[str, Any],
               limit: int = SNAPSHOT_LIMIT, sent: list[Any] | None = None) -> str | None:
    """Write ``state`` as the snapshot of ``key``; or, when it is over ``limit`` bytes,
    write nothing and return why (the previous snapshot stays in force). ``sent``: gets
    the changelog record's delivery future, for a caller that must know it is in Kafka."""
    value = _encode(state)
    if len(value) > limit:
        return snapshot_size(state).refusal(key, limit) or f"snapshot of {key} is too large"
    if len(value) > WARN_SNAPSHOT_BYTES and key not in _warned:
        _warned.add(key)
        log.warning("state of %s is %d bytes (limit %d): add partitions", key, len(value),
                    limit)
    kb = key.encode()
    table.data[kb] = value
    fut = table.send_changelog(partition, kb, value)
    if sent is not None and fut is not None:
        sent.append(fut)
    return None


class Refusals:
    """Counts refused snapshots per table (for ``/metrics``) and says so in the log: at the
    first refusal of a key, then at most once a minute while it lasts, and when a snapshot
    of it fits again. Keys are source partitions and policy areas, never an id."""

    REPEAT_S = 60.0

    def __init__(self, table: str, counts: dict[str, int]) -> None:
        self.table = table
        self.counts = counts
        self._logged: dict[str, float] = {}

    def note(self, key: str, reason: str | None) -> bool:
        """``reason``: what :func:`save_state` returned. True when the snapshot was written."""
        if reason is None:
            if self._logged.pop(key, None) is not None:
                log.warning("snapshot of %s fits again and was written", key)
            return True
        self.counts[self.table] = self.counts.get(self.table, 0) + 1
        now = time.monotonic()
        last = self._logged.get(key)
        if last is None or now - last >= self.REPEAT_S:
            self._logged[key] = now
            log.warning("%s table: %s; the previous snapshot stays in force (a restart "
                        "re-reads the log from there)", self.table, reason)
        return False
