"""Hard bounds on the streaming snapshots, and what a snapshot's size is made of.

A snapshot is one Kafka record: over the topic's ``max.message.bytes`` the producer
rejects it, and a worker that crashes on that rebuilds the same state on every restart.
Two things grow without the data growing: closed alert episodes (kept forever by an
:class:`signals.evaluator.Evaluator`) and, with a hot partition, open panes. Episodes are
bounded here (open ones and the newest ``keep_closed`` closed ones; older ones were
emitted when they closed). The rest is measured, so that the worker can refuse a snapshot
it cannot write — keep running from the last one that fitted and say why — instead of
crash-looping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from signals.records import Episode

# Per area. An episode is about 200 bytes encoded, so this is ~100 KB at most.
KEEP_CLOSED_EPISODES: Final = 500

_encode = msgspec.json.Encoder().encode


def keep_recent(episodes: list[Episode], keep_closed: int) -> list[Episode]:
    """Open episodes and the newest ``keep_closed`` closed ones, in their order."""
    closed = [i for i, e in enumerate(episodes) if e.ended_at is not None]
    if len(closed) <= keep_closed:
        return episodes
    drop = set(closed[:len(closed) - keep_closed])
    return [e for i, e in enumerate(episodes) if i not in drop]


@dataclass(frozen=True)
class SnapshotSize:
    """Bytes of a snapshot's JSON encoding, in total and per part (``evaluator.closed``)."""

    total: int
    parts: dict[str, int]

    def refusal(self, name: str, limit: int) -> str | None:
        """Why the snapshot of ``name`` cannot be written, or None when it fits."""
        if self.total <= limit:
            return None
        part, size = max(self.parts.items(), key=lambda kv: kv[1])
        return (f"snapshot of {name} is {self.total} bytes, over the {limit}-byte record "
                f"limit; the largest part is {part} ({size} bytes): add partitions")


def snapshot_size(state: Mapping[str, Any]) -> SnapshotSize:
    """Measure ``state`` (a ``to_state()``), one level into nested parts."""
    parts: dict[str, int] = {}
    for name, value in state.items():
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            for sub, inner in value.items():
                parts[f"{name}.{sub}"] = len(_encode(inner))
        else:
            parts[name] = len(_encode(value))
    return SnapshotSize(len(_encode(state)), parts)
