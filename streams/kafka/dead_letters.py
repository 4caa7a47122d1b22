"""Invalid source messages go to the dead-letter topic: original key and bytes, unchanged,
with the reason and where they came from in headers."""

from __future__ import annotations

from typing import Any

from faust.types import TP, TopicT

from signals.events import Rejected


class DeadLetters:
    def __init__(self, topic: TopicT) -> None:
        self.topic = topic

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
        await self.topic.send(key=msg.key, value=value, headers=headers, force=True)
