"""Epoch microseconds of an aware datetime (``scripts/build-native.sh`` replaces this with
``_clock.c``, which skips the big-integer arithmetic of ``datetime.timestamp()``).

``micros(d) / 1e6 == d.timestamp()`` exactly, and a difference of two ``micros`` over
``1e6`` equals ``timedelta.total_seconds()``: both sides do one correctly rounded division
of the same integers.
"""

import datetime as dt

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


def micros(d: dt.datetime) -> int:
    if d.tzinfo is None:
        raise ValueError("micros() needs an aware datetime")
    return (d - _EPOCH) // _MICRO
