"""Output records (``shared/contract/SIGNALS.md``): signal rows and alert episodes.

msgspec structs, kept out of the modules that ``scripts/build-native.sh`` compiles:
msgspec reads these annotations at run time, which compiled classes do not keep.
"""

from __future__ import annotations

import datetime as dt

import msgspec


class SignalRow(msgspec.Struct, frozen=True):
    policy_area: str
    market: str | None
    signal: str
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | int | None
    n: int


class Episode(msgspec.Struct, omit_defaults=True):
    policy_area: str
    market: str | None
    signal: str
    severity: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    peak_value: float | int
    threshold: float | int
    # What peak_value and threshold measure: the signal's value, or, for a rule judged
    # against the area's baseline, its score ("surprise", -log10 p; or "ratio" to baseline).
    # Left out of the output when it is the value, so absolute rules write what they did.
    measure: str = "value"
    # What an emergent-threat alert found (the tag, the advertiser share, the drop), for
    # the analyst: never a metric label. None for threshold alerts.
    detail: str | None = None


_encode_episode = msgspec.json.Encoder().encode


def episodes_jsonl(episodes: list[Episode], config_digest: str) -> bytes:
    """One JSON object per episode, its fields then ``config_digest`` (the config that
    raised it): appended to the encoded struct, as a hex digest needs no escaping."""
    if not config_digest.isalnum():
        raise ValueError(f"{config_digest!r} is not a config digest")
    tail = b',"config_digest":"' + config_digest.encode() + b'"}\n'
    return b"".join(_encode_episode(e)[:-1] + tail for e in episodes)
