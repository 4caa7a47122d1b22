"""Decoding a JSON Lines stream on the backtest's hot path (compiled by build-native.sh)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import msgspec

from signals.events import (
    MAX_MESSAGE_BYTES,
    Event,
    Rejected,
    _decoder,
    _good,
    decode_event,
)


def decode_lines(lines: Iterable[bytes], reject: Callable[[int, Rejected, bytes], None]
                 ) -> Iterator[Event]:
    """The valid events of a JSON Lines stream; ``reject(line_number, rejected, raw)`` for
    each invalid line. Blank lines are separators. The same checks as :func:`decode_event`,
    unrolled into one loop because a backtest spends most of its time right here."""
    decode = _decoder.decode
    good = _good
    for lineno, raw in enumerate(lines, 1):
        if len(raw) <= MAX_MESSAGE_BYTES:
            try:
                event: Event = decode(raw)
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
                pass
            else:
                market = event.market
                if event.policy_area in good and (market is None or market in good):
                    yield event
                    continue
        if raw == b"\n" or raw == b"\r\n":
            continue  # a blank line in JSON Lines is a separator, not a message
        result = decode_event(raw)  # the slow path finds the reason (or a first-seen area)
        if type(result) is Rejected:
            reject(lineno, result, raw.rstrip(b"\r\n"))
        else:
            yield result  # type: ignore[misc]
