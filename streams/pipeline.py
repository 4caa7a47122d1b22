"""Decode, validate and count: the one path every driver (file, simulator, Kafka) uses."""

from __future__ import annotations

from collections.abc import Callable

from signals.config import Config
from signals.engine import Engine, Outcome
from signals.events import Appeal, Decision, Rejected, Report, decode_event

STREAM_OF = {Decision: "decision", Appeal: "appeal", Report: "report"}

RejectSink = Callable[[Rejected, bytes], None]


class Pipeline:
    """Feeds raw messages to an :class:`Engine` and keeps the raw counters metrics need.

    Counters are plain dicts (a Prometheus collector copies them at scrape time), which
    costs a fraction of a labelled prometheus-client ``inc()`` per event.
    """

    def __init__(self, config: Config, on_reject: RejectSink | None = None) -> None:
        self.engine = Engine(config)
        self.on_reject = on_reject
        self.events: dict[tuple[str, str, str], int] = {}
        self.invalid: dict[tuple[str, str], int] = {}
        self.last_event_type: str | None = None

    def feed(self, raw: bytes, stream: str = "unknown") -> Outcome | Rejected:
        event = decode_event(raw)
        if type(event) is Rejected:
            key = (stream, event.reason)
            self.invalid[key] = self.invalid.get(key, 0) + 1
            if self.on_reject is not None:
                self.on_reject(event, raw)
            return event
        assert not isinstance(event, Rejected)
        outcome = self.engine.ingest(event)
        ckey = (STREAM_OF[type(event)], self.engine.area_of(event.policy_area), outcome)
        self.events[ckey] = self.events.get(ckey, 0) + 1
        return outcome

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())
