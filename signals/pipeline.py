"""Decode, admit and count: the one path every single-source driver (file, simulator) uses.

The Kafka worker runs the same steps per partition in :class:`signals.merge.SourcePartition`.
"""

from __future__ import annotations

from collections.abc import Callable

from signals.admission import future_limit, too_far_ahead
from signals.config import Config
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.ingest import Outcome, Tally
from signals.threats_config import ThreatsConfig

RejectSink = Callable[[Rejected, bytes], None]
Clock = Callable[[], float]


class Pipeline:
    """Feeds raw messages to an :class:`Engine` and keeps the raw counters metrics need.

    Counters are plain dicts (a Prometheus collector copies them at scrape time), which
    costs a fraction of a labelled prometheus-client ``inc()`` per event.
    """

    def __init__(self, config: Config, on_reject: RejectSink | None = None,
                 max_future_s: float | None = None, clock: Clock | None = None,
                 threats: ThreatsConfig | None = None) -> None:
        """``max_future_s`` with ``clock``: see :mod:`signals.admission`; ``threats``: also
        run the emergent-threat detectors (``engine.threats``)."""
        self.engine = Engine(config, threats)
        self.on_reject = on_reject
        self.events: Tally = {}
        self.invalid: dict[tuple[str, str], int] = {}
        self.max_future_s = max_future_s
        self.clock = clock

    def feed(self, raw: bytes, stream: str = "unknown") -> Outcome | Rejected:
        event = decode_event(raw)
        if type(event) is Rejected:
            return self._reject(event, raw, stream)
        assert not isinstance(event, Rejected)
        now = None if self.clock is None else self.clock()
        ahead = too_far_ahead(event, future_limit(self.max_future_s, now))
        if ahead is not None:
            return self._reject(ahead, raw, stream)
        return self.engine.ingest.ingest(event, self.events)

    def reject(self, rejected: Rejected, raw: bytes, stream: str = "unknown") -> None:
        """Count an input the driver refused before decoding (a line that is not JSON)."""
        self._reject(rejected, raw, stream)

    def _reject(self, rejected: Rejected, raw: bytes, stream: str) -> Rejected:
        key = (stream, rejected.reason)
        self.invalid[key] = self.invalid.get(key, 0) + 1
        if self.on_reject is not None:
            self.on_reject(rejected, raw)
        return rejected

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())
