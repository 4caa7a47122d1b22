"""Invalid source messages go to the dead-letter topic: original key and bytes, unchanged,
with the reason and where they came from in headers.

Sends are not awaited one by one (a batch may reject many); :meth:`DeadLetters.delivered`
waits for all sent so far, and a snapshot calls it first: a snapshot covers the offsets of
the messages it dead-lettered, so after a crash they are not read again, and a dead letter
still in the producer's buffer would be lost with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from faust.types import TP, TopicT

from signals.events import Rejected


class DeadLetters:
    def __init__(self, topic: TopicT) -> None:
        self.topic = topic
        self._pending: list[Awaitable[Any]] = []

    async def send(self, tp: TP, msg: Any, rejected: Rejected) -> None:
        """``msg``: an aiokafka record or a Faust message (``key``, ``value``, ``offset``)."""
        headers = [
            ("harmwatch-reason", rejected.reason.encode()),
            ("harmwatch-source-topic", tp.topic.encode()),
            ("harmwatch-source-partition", str(tp.partition).encode()),
            ("harmwatch-source-offset", str(msg.offset).encode()),
        ]
        if rejected.event_id:
            headers.append(("harmwatch-event-id", rejected.event_id.encode()[:128]))
        value = msg.value if isinstance(msg.value, bytes) else b""
        self._pending.append(await self.topic.send(key=msg.key, value=value, headers=headers,
                                                   force=True))

    async def delivered(self) -> None:
        """Wait until Kafka has every dead letter sent so far; a failed delivery raises
        (the caller must not snapshot past it)."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
