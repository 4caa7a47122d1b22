"""One fix to Faust (faust-streaming), applied when the worker's app is built.

**Standby recovery seeks to a negative offset after a broker restart.** Faust's
``Recovery._seek_offsets`` turns an offset of -1 into 0 and seeks to anything else as it
is; in the long chaos run a worker taking partitions over shortly after a broker SIGKILL
crashed in "Starting standby partitions" with aiokafka's ``ValueError: Offset must be a
positive integer`` (an offset below -1 in Faust's standby offsets), and the worker exited
1. Reading such a changelog partition from its start is what Faust does for -1, so every
negative (or missing) offset is treated as -1 here. Without a release of Faust that fixes
it, patching the one method beats copying its recovery service.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.tables.recovery import Recovery

_PATCHED = "_harmwatch_safe_seek"


def _safe(offsets: Any) -> Counter[Any]:
    return Counter({tp: (o if isinstance(o, int) and o >= -1 else -1)
                    for tp, o in offsets.items()})


def apply() -> None:
    """Idempotent: the benchmark builds several apps in one process."""
    if getattr(Recovery, _PATCHED, False):
        return
    original = Recovery._seek_offsets

    async def seek_offsets(self: Any, consumer: Any, tps: Any, offsets: Any,
                           title: str) -> None:
        await original(self, consumer, tps, _safe(offsets), title)

    Recovery._seek_offsets = seek_offsets  # type: ignore[method-assign]
    setattr(Recovery, _PATCHED, True)
