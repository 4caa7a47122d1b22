"""Keys of counted state and small conversions shared by ingest, evaluator and merge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from signals.config import Config
from signals.counts import Counts

Key = tuple[str, str | None]  # (policy area, market or None for the whole area)
Bucket = dict[Key, Counts]


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def as_number(value: float) -> float | int:
    """Whole numbers print as integers (``42``, not ``42.0``), as the contract shows them."""
    return int(value) if float(value).is_integer() else value


def key_str(key: Key) -> str:
    return key[0] if key[1] is None else f"{key[0]}|{key[1]}"


def key_of(text: str) -> Key:
    area, _, market = text.partition("|")
    return (area, market or None)



def all_keys(config: Config) -> Iterator[Key]:
    for area in config.areas:
        yield (area, None)
        for market in sorted(config.engine.markets):
            yield (area, market)

