"""Durations as analysts write them in config: ``30s``, ``5m``, ``1h``, ``1d``, ``1h30m``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)([smhd])")
_WHOLE = re.compile(r"(?:\d+[smhd])+")


def parse_duration(text: str) -> int:
    """Return whole seconds; raise ValueError with the accepted forms on anything else.

    Only whole seconds: Kafka-side windows and Prometheus ``for:`` both want them, and a
    fractional window would make pane boundaries drift between backtest and live runs.
    """
    if not isinstance(text, str) or not _WHOLE.fullmatch(text):
        raise ValueError(f"{text!r} is not a duration; write it like 30s, 5m, 1h or 1h30m")
    return sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))


def format_duration(seconds: int) -> str:
    """The shortest config spelling of ``seconds`` (inverse of :func:`parse_duration`)."""
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            n, seconds = divmod(seconds, size)
            out.append(f"{n}{unit}")
    return "".join(out)
