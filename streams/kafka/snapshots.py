"""Table snapshots: the state of one source partition or one policy area as one record.

A snapshot is written to the table's in-memory store and to its changelog with the
partition the state belongs to (``send_changelog``), not the one Faust would hash the key
to: ownership of state follows the partition of the topic it was read from. One record per
key keeps a snapshot atomic.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Protocol

import msgspec

from streams.kafka.settings import MAX_SNAPSHOT_BYTES

log = logging.getLogger("harmwatch.worker")
# Above this a snapshot still fits (MAX_SNAPSHOT_BYTES), but it is time to add partitions.
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


def save_state(table: StateTable, key: str, partition: int, state: dict[str, Any]) -> None:
    value = _encode(state)
    if len(value) > WARN_SNAPSHOT_BYTES and key not in _warned:
        _warned.add(key)
        log.warning("state of %s is %d bytes (limit %d): add partitions", key, len(value),
                    MAX_SNAPSHOT_BYTES)
    kb = key.encode()
    table.data[kb] = value
    table.send_changelog(partition, kb, value)
