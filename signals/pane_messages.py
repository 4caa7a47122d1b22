"""What a source partition tells an area's merge, and the watermark control records.

Kept apart from :mod:`signals.merge` (the state machines) because the worker's producer
side and the idle check need only these: the wire format of a pane message, which panes
partition an area uses, and how far a quiet partition may be advanced.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterable, Mapping

import msgspec

NEG_INF = float("-inf")
WATERMARK_HEADER = "harmwatch-watermark"

PaneDicts = dict[str, dict[str, dict[str, object]]]  # pane start -> key -> Counts.to_dict()


class PaneMessage(msgspec.Struct, omit_defaults=True):
    """What one source partition tells one area's merge.

    ``to``: every pane starting before it is final in this source (its ``closed_until``).
    ``first``: the first pane with data of any area in this source (windows start there).
    ``panes``: this area's counts of the panes closed since the previous message.
    ``idle``: advisory; the source's frontier last moved by a watermark record, not by its
    own events. Used only to leave the source out of :meth:`AreaMerge.group_watermark`
    (two quiet partitions must not hold each other back); it never lets the merge pass
    the source's frontier.
    """

    src: str
    to: float | None = None
    first: int | None = None
    panes: PaneDicts = {}
    idle: bool = False


_encode = msgspec.json.Encoder().encode
_decode_pane = msgspec.json.Decoder(PaneMessage).decode


def encode(msg: PaneMessage) -> bytes:
    return _encode(msg)


def decode(raw: bytes) -> PaneMessage:
    return _decode_pane(raw)


def source_id(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def pane_partition(area: str, partitions: int) -> int:
    """The panes partition of an area, chosen here rather than by a client's partitioner so
    that a worker taking a panes partition over knows which areas' snapshots to restore."""
    return zlib.crc32(area.encode()) % partitions


def group_watermark(frontiers: Mapping[str, float], sources: Iterable[str],
                    idle: Collection[str], quiet: str) -> float | None:
    """The smallest frontier among the *active* sources other than ``quiet``; None when
    there is none or one of them has not announced a frontier yet.

    Advancing a quiet partition to it never passes data the merge has not got (the record
    goes through the partition itself), and the events it makes late are older than what
    every active partition has closed, so older than the single engine's watermark would
    be too (Flink's idle sources follow the same combined watermark). Sources whose last
    frontier came from such a record are left out, so quiet partitions do not wait for
    each other.
    """
    marks = []
    for src in sources:
        if src == quiet or src in idle:
            continue
        mark = frontiers.get(src)
        if mark is None:
            return None
        marks.append(mark)
    return min(marks) if marks else None


def watermark_headers(watermark: float) -> list[tuple[str, bytes]]:
    """Headers of a watermark control record (empty value), as ``produce
    --final-watermark`` and the worker's idle check write them."""
    return [(WATERMARK_HEADER, repr(float(watermark)).encode())]
