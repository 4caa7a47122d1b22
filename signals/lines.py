"""Decoding a JSON Lines stream on the backtest's hot path (compiled by build-native.sh)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import msgspec

from signals.events import (
    MAX_MESSAGE_BYTES,
    Event,
    Rejected,
    _decoder,
    _good_areas,
    _good_markets,
    decode_event,
)


def decode_chunks(lines: Iterable[bytes], reject: Callable[[int, Rejected, bytes], None],
                  size: int = 256) -> Iterator[list[Event]]:
    """The valid events of a JSON Lines stream in lists of up to ``size`` (the last may be
    shorter, none is empty); ``reject(line_number, rejected, raw)`` for each invalid line.
    Blank lines are separators. The same checks as :func:`decode_event`, unrolled into one
    loop because a backtest spends most of its time right here; lists rather than one event
    per ``next`` save a generator resume per event."""
    decode = _decoder.decode
    areas, markets = _good_areas, _good_markets
    chunk: list[Event] = []
    for lineno, raw in enumerate(lines, 1):
        if len(raw) <= MAX_MESSAGE_BYTES:
            try:
                event: Event = decode(raw)
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
                pass
            else:
                market = event.market
                if event.policy_area in areas and (market is None or market in markets):
                    chunk.append(event)
                    if len(chunk) >= size:
                        yield chunk
                        chunk = []
                    continue
        if raw == b"\n" or raw == b"\r\n":
            continue  # a blank line in JSON Lines is a separator, not a message
        result = decode_event(raw)  # the slow path finds the reason (or a first-seen area)
        if type(result) is Rejected:
            reject(lineno, result, raw.rstrip(b"\r\n"))
        else:
            chunk.append(result)  # type: ignore[arg-type]
            if len(chunk) >= size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk
