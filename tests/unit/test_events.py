"""The event contract: valid examples decode; every kind of hostile input gets its reason."""

from __future__ import annotations

import orjson
import pytest

from signals.events import (
    MAX_MESSAGE_BYTES,
    Appeal,
    Decision,
    Rejected,
    Report,
    decode_event,
    json_schema,
)
from tests.helpers import ev, line
from tests.support import SHARED

EXAMPLES = SHARED / "contract" / "examples.jsonl"


def test_contract_examples_are_valid() -> None:
    lines = [x for x in EXAMPLES.read_bytes().splitlines() if x.strip()]
    assert lines, "examples.jsonl is empty"
    kinds = set()
    for raw in lines:
        event = decode_event(raw)
        assert not isinstance(event, Rejected), (raw, event)
        kinds.add(type(event))
    assert kinds == {Decision, Appeal, Report}


def test_defaults_and_offsets() -> None:
    e = decode_event(line(ev("decision", 0, occurred_at="2026-11-24T10:00:04+01:00")))
    assert isinstance(e, Decision)
    assert e.action == "none" and e.source == "proactive" and e.minor_audience is False
    assert e.surface == "other" and e.tags == []
    assert e.occurred_at.utcoffset() is not None
    assert e.occurred_at.timestamp() == pytest.approx(1795510804.0)


def _with(**changes: object) -> bytes:
    base = ev("decision", 0, eid="bad-1")
    for k, v in changes.items():
        if v is ...:
            base.pop(k)
        else:
            base[k] = v
    return orjson.dumps(base)


HOSTILE = [
    (b'{"event_id": "x", "type": "report", "occurred_at": "2026-11-24T10:00:00Z"',
     "truncated_json"),
    (b"not json at all", "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b'"a string"', "not_object"),
    (b"null", "not_object"),
    (b"42", "not_object"),
    (_with(detection=...), "missing_field:detection"),
    (_with(event_id=...), "missing_field:event_id"),
    (_with(type=...), "missing_field:type"),
    (_with(type="tweet"), "bad_value:type"),
    (_with(verdict="maybe"), "bad_value:verdict"),
    (_with(surface="billboard"), "bad_value:surface"),
    (_with(severity=9), "bad_value:severity"),
    (_with(severity="high"), "bad_type:severity"),
    (_with(minor_audience="yes"), "bad_type:minor_audience"),
    (_with(policy_area=7), "bad_type:policy_area"),
    (_with(policy_area="Youth Safety"), "bad_value:policy_area"),
    (_with(market="Germany"), "bad_value:market"),
    (_with(event_id=""), "bad_value:event_id"),
    (_with(event_id="x" * 129), "bad_value:event_id"),
    (_with(tags=["ok"] * 17), "bad_value:tags"),
    (_with(tags=["x" * 65]), "bad_value:tags"),
    (_with(content_id="c" * 129), "bad_value:content_id"),
    (_with(occurred_at="2026-11-24T10:00:00"), "bad_timestamp:occurred_at"),
    (_with(occurred_at="2026-11-24 10:00"), "bad_timestamp:occurred_at"),
    (_with(occurred_at=1764000000), "bad_timestamp:occurred_at"),
    (_with(reported_at="yesterday"), "bad_timestamp:reported_at"),
    (orjson.dumps(ev("appeal", 0, stage="decided")), "missing_field:outcome"),
    (orjson.dumps(ev("appeal", 0, stage="decided", outcome="maybe")), "bad_value:outcome"),
    (orjson.dumps(ev("report", 0, reporter="bot")), "bad_value:reporter"),
    (b'{"event_id": "x\xff\xfe", "type": "report"}', "bad_utf8"),
    (b"\xff\xfe\x00{}", "bad_utf8"),
    # msgspec sees an array where an object must be and stops before descending.
    (b"[" * 10_000 + b"]" * 10_000, "not_object"),
    (b'{"event_id": "deep", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "too_deep"),
    (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "too_deep"),
]


@pytest.mark.parametrize(("raw", "reason"), HOSTILE, ids=[r for _, r in HOSTILE])
def test_hostile_input_is_rejected_with_reason(raw: bytes, reason: str) -> None:
    result = decode_event(raw)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_oversize_message_is_rejected() -> None:
    big = ev("report", 0, eid="big")
    big["padding"] = "x" * MAX_MESSAGE_BYTES
    result = decode_event(orjson.dumps(big))
    assert result == Rejected("too_large")


def test_unknown_fields_are_ignored() -> None:
    raw = ev("report", 0)
    raw["future_field"] = {"nested": [1, 2, {"deep": True}]}
    assert isinstance(decode_event(orjson.dumps(raw)), Report)


def test_rejected_keeps_event_id_when_readable() -> None:
    result = decode_event(_with(verdict="maybe"))
    assert isinstance(result, Rejected) and result.event_id == "bad-1"


def test_schema_is_generated_from_the_structs() -> None:
    schema = json_schema()
    defs = schema["$defs"]
    assert isinstance(defs, dict)
    assert {"Decision", "Appeal", "Report"} <= set(defs)
    assert "detection" in defs["Decision"]["required"]
