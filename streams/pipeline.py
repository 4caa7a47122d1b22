"""Decode, validate and count: the one path every driver (file, simulator, Kafka) uses."""

from __future__ import annotations

import time
from collections.abc import Callable

from signals._clock import micros
from signals.config import Config
from signals.engine import Engine, Outcome
from signals.events import Event, Rejected, decode_event

RejectSink = Callable[[Rejected, bytes], None]


def future_limit(max_future_s: float | None,
                 clock: Callable[[], float] = time.time) -> float | None:
    """In live modes an event stamped further ahead of the wall clock than ``max_future_s``
    is rejected: one event dated next year would otherwise move the watermark past every
    real event and make them all late. A backtest has no wall clock and passes None. The
    limit is read once per batch, not once per event."""
    return None if max_future_s is None else clock() + max_future_s


def too_far_ahead(event: Event, limit: float | None) -> Rejected | None:
    """``limit``: from :func:`future_limit`."""
    if limit is not None and micros(event.occurred_at) / 1e6 > limit:
        return Rejected("future_timestamp:occurred_at", event.event_id)
    return None


class Pipeline:
    """Feeds raw messages to an :class:`Engine` and keeps the raw counters metrics need.

    Counters are plain dicts (a Prometheus collector copies them at scrape time), which
    costs a fraction of a labelled prometheus-client ``inc()`` per event.
    """

    def __init__(self, config: Config, on_reject: RejectSink | None = None,
                 max_future_s: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``max_future_s``: see :func:`future_limit`."""
        self.engine = Engine(config)
        self.on_reject = on_reject
        self.events: dict[tuple[str, str, str], int] = {}
        self.invalid: dict[tuple[str, str], int] = {}
        self.max_future_s = max_future_s
        self.clock = clock

    def feed(self, raw: bytes, stream: str = "unknown") -> Outcome | Rejected:
        event = decode_event(raw)
        if type(event) is Rejected:
            return self._reject(event, raw, stream)
        assert not isinstance(event, Rejected)
        ahead = too_far_ahead(event, future_limit(self.max_future_s, self.clock))
        if ahead is not None:
            return self._reject(ahead, raw, stream)
        return self.engine.ingest(event, self.events)

    def _reject(self, rejected: Rejected, raw: bytes, stream: str) -> Rejected:
        key = (stream, rejected.reason)
        self.invalid[key] = self.invalid.get(key, 0) + 1
        if self.on_reject is not None:
            self.on_reject(rejected, raw)
        return rejected

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())
