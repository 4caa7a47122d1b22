"""Exact event counters on ``/metrics`` across SIGKILLs, takeovers and restarts.

``harmwatch_events_total{stream,policy_area,outcome}`` and
``harmwatch_invalid_events_total{stream,reason}`` are per-process counters, summed over
the workers by Prometheus. Counting at read time counted twice: after a SIGKILL the next
owner re-reads everything after the last snapshot and counts it again (+4.5 % in the long
chaos run, docs/chaos.md). So a source partition's counts reach ``/metrics`` only for
offsets a *written* snapshot covers, and the snapshot says how far they were exported:

- ``counted``: the partition's outcome counts over its whole log up to the snapshot's
  offset (restored, then added to as messages are read);
- ``exported``: how much of ``counted`` some process has put on its ``/metrics``.

A periodic snapshot records ``exported = counted``; once Kafka has it, this process adds
the difference to its counters. A snapshot taken to hand the partition on (revoke,
shutdown) records ``exported`` unchanged and exports nothing: the next owner exports that
difference at its first snapshot, and it is alive to be scraped. A process killed before
its snapshot is delivered has exported nothing of it; the next owner restores the previous
snapshot and counts those offsets itself. So every offset's count is exported by exactly one
process, and the sum over all processes that ever ran is the file's truth (up to what a
killed process exported after its last scrape, which no Prometheus counter can show).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signals.ingest import Tally

Invalid = dict[tuple[str, str], int]


def _added(into: dict[Any, int], counted: dict[Any, int], exported: dict[Any, int]) -> None:
    for key, n in counted.items():
        delta = n - exported.get(key, 0)
        if delta > 0:
            into[key] = into.get(key, 0) + delta


def _rows(counts: dict[Any, int]) -> list[list[Any]]:
    return [[*key, n] for key, n in sorted(counts.items()) if n]


def _events(rows: list[list[Any]]) -> Tally:
    return {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in rows}


def _invalid(rows: list[list[Any]]) -> Invalid:
    return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}


@dataclass
class PartitionCounts:
    """One source partition's outcome counts: counted so far and exported so far."""

    events: Tally = field(default_factory=dict)
    invalid: Invalid = field(default_factory=dict)
    exported_events: Tally = field(default_factory=dict)
    exported_invalid: Invalid = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> PartitionCounts:
        """From a snapshot's ``counts`` (None: a snapshot from before counts were kept)."""
        if not state:
            return cls()
        return cls(_events(state["events"]), _invalid(state["invalid"]),
                   _events(state["exported_events"]), _invalid(state["exported_invalid"]))

    def to_state(self, export: bool) -> dict[str, Any]:
        """For the snapshot; ``export``: this process exports the rest once it is written."""
        return {"events": _rows(self.events), "invalid": _rows(self.invalid),
                "exported_events": _rows(self.events if export else self.exported_events),
                "exported_invalid": _rows(self.invalid if export else self.exported_invalid)}

    def export(self, events: Tally, invalid: Invalid) -> None:
        """The snapshot recording ``export=True`` is written: add what it covers and was
        not exported yet to the process counters ``events`` and ``invalid``."""
        _added(events, self.events, self.exported_events)
        _added(invalid, self.invalid, self.exported_invalid)
        self.exported_events = dict(self.events)
        self.exported_invalid = dict(self.invalid)

    @property
    def unexported(self) -> bool:
        return self.events != self.exported_events or self.invalid != self.exported_invalid
