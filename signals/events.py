"""The event contract (``shared/contract/EVENTS.md``, version 1) as msgspec structs.

These structs are the single definition of the contract: the hot path decodes with them,
and the JSON schema (``harmwatch schema``) is generated from them. msgspec validates while
decoding, which is what lets a backtest run near the raw JSON-decoding ceiling.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Final, Literal

import msgspec

MAX_MESSAGE_BYTES: Final = 64 * 1024

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
OpaqueId = Annotated[str, msgspec.Meta(max_length=128)]
# The two patterns are enforced by _syntax_ok() after decoding, not by msgspec: msgspec runs
# a Python regex per string, which cost more than the whole rest of the decode. The schema
# still states them, so the contract has one definition.
AREA_PATTERN: Final = r"^[a-z][a-z0-9_]*$"
MARKET_PATTERN: Final = r"^[A-Z]{2}$"
AreaId = Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                     extra_json_schema={"pattern": AREA_PATTERN})]
Market = Annotated[str, msgspec.Meta(min_length=2, max_length=2,
                                     extra_json_schema={"pattern": MARKET_PATTERN})]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Timestamp = Annotated[dt.datetime, msgspec.Meta(tz=True)]
Surface = Literal["ad", "video", "live", "comment", "profile", "shop", "other"]
Detection = Literal["automated", "human", "hybrid"]


class _Event(msgspec.Struct, kw_only=True, frozen=True, gc=False, tag_field="type"):
    event_id: EventId
    occurred_at: Timestamp
    policy_area: AreaId
    market: Market | None = None
    surface: Surface = "other"
    content_id: OpaqueId | None = None
    advertiser_id: OpaqueId | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=16)] = []


class Decision(_Event, kw_only=True, frozen=True, gc=False, tag="decision"):
    verdict: Literal["violating", "non_violating", "escalated"]
    action: Literal[
        "none", "remove", "restrict", "age_restrict", "demonetize", "reject_ad", "suspend_account"
    ] = "none"
    detection: Detection
    source: Literal["proactive", "user_report", "trusted_flagger", "regulator"] = "proactive"
    minor_audience: bool = False
    severity: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    reported_at: Timestamp | None = None


class Appeal(_Event, kw_only=True, frozen=True, gc=False, tag="appeal"):
    decision_id: EventId
    stage: Literal["filed", "decided"]
    outcome: Literal["upheld", "overturned"] | None = None
    original_detection: Detection | None = None

    def __post_init__(self) -> None:
        if self.stage == "decided" and self.outcome is None:
            # msgspec turns this into a ValidationError; the message is parsed by reason_of.
            raise ValueError("Object missing required field `outcome`")


class Report(_Event, kw_only=True, frozen=True, gc=False, tag="report"):
    reporter: Literal["user", "trusted_flagger", "regulator", "advertiser", "employee"]


Event = Decision | Appeal | Report
# Counters and metrics label events by stream, named after the event type.
STREAM_OF: Final[dict[type, str]] = {Decision: "decision", Appeal: "appeal", Report: "report"}
STREAMS: Final = tuple(STREAM_OF.values())

_decoder: Final = msgspec.json.Decoder(Event)
_id_probe: Final = msgspec.json.Decoder(dict[str, object])


class Rejected(msgspec.Struct, frozen=True):
    """An invalid message: a stable machine-readable reason and the id when it could be read."""

    reason: str
    event_id: str | None = None


_PATH = re.compile(r" - at `\$\.?([A-Za-z0-9_]*)")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def _reason_from_validation(message: str) -> str:
    missing = _MISSING.search(message)
    if missing:
        return f"missing_field:{missing.group(1)}"
    path = _PATH.search(message)
    field = path.group(1) if path else ""
    if not field:
        return "not_object" if message.startswith("Expected `object`") else "bad_value"
    if "datetime" in message or "RFC3339" in message:
        return f"bad_timestamp:{field}"
    if message.startswith("Expected `") and (", got `" in message):
        return f"bad_type:{field}"
    return f"bad_value:{field}"


def reason_of(exc: BaseException) -> str:
    """Map a decoding failure to a short, stable reason such as ``missing_field:detection``."""
    if isinstance(exc, RecursionError):
        return "too_deep"
    if isinstance(exc, msgspec.ValidationError):
        return _reason_from_validation(str(exc))
    if isinstance(exc, UnicodeDecodeError):
        return "bad_utf8"
    message = str(exc)
    if "UTF-8" in message or "utf-8" in message:
        return "bad_utf8"
    if "truncated" in message:
        return "truncated_json"
    return "not_json"


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _probe_id(raw: bytes) -> str | None:
    """Best effort: the event_id of an invalid message, for the reject record."""
    try:
        obj = _id_probe.decode(raw)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    value = obj.get("event_id")
    return value[:128] if isinstance(value, str) else None


_AREA_RE: Final = re.compile(AREA_PATTERN)
_MARKET_RE: Final = re.compile(MARKET_PATTERN)
# Memos of strings already found to match, one per pattern: policy areas and markets repeat
# endlessly, so each regex runs about once per distinct value. One memo per pattern, because a
# string shared by both ("DE" as an area) would otherwise be valid or not depending on which
# field it was first seen in. Each is bounded so hostile input cannot grow it.
_good_areas: set[str] = set()
_good_markets: set[str] = set()
_GOOD_MAX: Final = 4096


def _syntax_ok(text: str, pattern: re.Pattern[str], good: set[str]) -> bool:
    """``good``: the memo of ``pattern`` and of no other."""
    if text in good:
        return True
    # fullmatch: "$" alone also matches before a trailing newline, which the schema's
    # (ECMA-262) pattern does not allow.
    if pattern.fullmatch(text) is None:
        return False
    if len(good) >= _GOOD_MAX:
        good.clear()
    good.add(text)
    return True


def _failure(raw: bytes, exc: BaseException) -> Rejected:
    reason = reason_of(exc)
    if reason == "not_json" and not _is_utf8(raw):
        reason = "bad_utf8"
    event_id = None if reason in ("too_deep", "not_json", "bad_utf8") else _probe_id(raw)
    return Rejected(reason, event_id)


def decode_event(raw: bytes) -> Event | Rejected:
    """Decode one message; never raises on any input."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return Rejected("too_large")
    try:
        event: Event = _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        return _failure(raw, exc)
    if not _syntax_ok(event.policy_area, _AREA_RE, _good_areas):
        return Rejected("bad_value:policy_area", event.event_id)
    market = event.market
    if market is not None and not _syntax_ok(market, _MARKET_RE, _good_markets):
        return Rejected("bad_value:market", event.event_id)
    return event


def json_schema() -> dict[str, object]:
    """JSON Schema of the contract, generated from the structs above."""
    schema: dict[str, object] = msgspec.json.schema(Event)
    return schema
