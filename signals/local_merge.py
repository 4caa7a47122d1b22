"""Every source partition and every area's merge in one process, without Kafka.

For tests, and for ``harmwatch backtest --partitions N``: the partitioned path of a
worker, fed a file routed the way the producer routes it, reproduces the worker's
per-partition lateness exactly, which a single-engine backtest does not.
"""

from __future__ import annotations

from signals.config import Config
from signals.events import Rejected
from signals.ingest import Outcome, Tally
from signals.merge import AreaMerge, SourcePartition
from signals.pane_messages import PaneMessage, decode, encode
from signals.snapshots import KEEP_CLOSED_EPISODES
from signals.tags import tag_spec
from signals.threats_config import ThreatsConfig


class LocalMerge:
    """Every source partition and every area in one process, no Kafka: for tests and for
    checking that the partitioned path equals the single engine."""

    def __init__(self, config: Config, sources: list[str],
                 keep_closed: int = KEEP_CLOSED_EPISODES,
                 threats: ThreatsConfig | None = None,
                 max_future_s: float | None = None) -> None:
        """``max_future_s``: the future-date guard of :meth:`SourcePartition.feed_sent`
        (None: none, as a file has no send times)."""
        self.config = config
        spec = None if threats is None else tag_spec(threats)
        self.parts = {s: SourcePartition(config, s, config.areas, max_future_s=max_future_s,
                                         threats=spec)
                      for s in sources}
        self.merges = {a: AreaMerge(config, a, sources, keep_closed, threats)
                       for a in config.areas}
        self.offsets = dict.fromkeys(config.areas, 0)
        self.tally: Tally = {}

    def publish(self, part: SourcePartition, messages: list[tuple[str, PaneMessage]]) -> None:
        for area, msg in messages:
            merge = self.merges[area]
            # Through the wire format, as the worker does.
            merge.apply(self.offsets[area], decode(encode(msg)))
            self.offsets[area] += 1
            merge.advance()

    def feed(self, source: str, offset: int, raw: bytes) -> Outcome | Rejected | None:
        part = self.parts[source]
        result = part.feed(offset, raw, self.tally)
        self.publish(part, part.take_messages())
        return result

    def idle(self, source: str, offset: int) -> bool:
        """What the worker's idle check does for a quiet, caught-up partition: a watermark
        record at ``offset`` of its log with the group's watermark. False (and no offset
        used) when there is nothing to advance to."""
        part = self.parts[source]
        mark = part.idle_watermark(next(iter(self.merges.values())).group_watermark(source))
        if mark is None:
            return False
        part.advance(offset, mark)
        self.publish(part, part.take_messages())
        return True

    def watermark(self, watermark: float) -> None:
        for part in self.parts.values():
            part.advance(part.next_offset, watermark)
            self.publish(part, part.take_messages())
