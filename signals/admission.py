"""Which valid events a live driver admits: the future-date guard.

In live modes an event stamped further ahead of "now" than ``MAX_FUTURE_S`` is rejected:
one event dated next year would otherwise move the watermark past every real event and
make them all late. "Now" is the driver's clock, passed in (this package reads none); a
backtest has no clock and admits everything.
"""

from __future__ import annotations

from typing import Final

from signals._clock import micros
from signals.events import Event, Rejected, decode_event

MAX_FUTURE_S: Final = 600.0
FUTURE_REASON: Final = "future_timestamp:occurred_at"


def future_limit(max_future_s: float | None, now: float | None) -> float | None:
    """The newest admissible event time, or None for no limit. Read once per batch."""
    if max_future_s is None or now is None:
        return None
    return now + max_future_s


def too_far_ahead(event: Event, limit: float | None) -> Rejected | None:
    """``limit``: from :func:`future_limit`."""
    if limit is not None and micros(event.occurred_at) / 1e6 > limit:
        return Rejected(FUTURE_REASON, event.event_id)
    return None


def admitted(raw: bytes, limit: float | None) -> Event | Rejected:
    """The event in ``raw``, or why it is refused: invalid, or dated after ``limit`` (from
    :func:`future_limit`; None for no guard)."""
    event = decode_event(raw)
    if limit is None or type(event) is Rejected:
        return event
    assert not isinstance(event, Rejected)
    refused = too_far_ahead(event, limit)
    return event if refused is None else refused
