"""The patched standby seek (streams/kafka/faust_fixes.py) with a recording consumer."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, cast

from faust.tables.recovery import Recovery
from faust.types import TP

from streams.kafka import faust_fixes


class Consumer:
    def __init__(self) -> None:
        self.seeks: dict[Any, int] = {}

    async def seek_wait(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            if not isinstance(offset, int) or offset < 0:  # what aiokafka's seek refuses
                raise ValueError("Offset must be a positive integer")
            self.seeks[tp] = offset


def test_negative_standby_offsets_seek_to_the_start_instead_of_crashing() -> None:
    faust_fixes.apply()
    faust_fixes.apply()  # twice is once
    a, b, c, d = (TP("t-changelog", n) for n in range(4))
    consumer = Consumer()
    offsets: Counter[Any] = Counter({a: -2, b: -1, c: 41})
    seek = cast(Any, Recovery._seek_offsets)
    asyncio.run(seek(object(), consumer, {a, b, c, d}, offsets, "standby"))
    assert consumer.seeks == {a: 0, b: 0, c: 41, d: 0}
