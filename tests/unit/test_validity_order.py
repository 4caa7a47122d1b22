"""A line's verdict is a function of the line alone, never of the lines decoded before it.

Both decode paths are covered: :func:`signals.events.decode_event` (the simulator, Kafka) and
:func:`signals.lines.decode_chunks` (the backtest's fast path). The expected verdicts are
written out with string methods, independently of the decoder's regexes and memos.
"""

from __future__ import annotations

import string

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.events import Rejected, decode_event
from signals.lines import decode_chunks
from tests.helpers import ev

_AREA_FIRST = set(string.ascii_lowercase)
_AREA_REST = set(string.ascii_lowercase + string.digits + "_")


def expected_reason(area: str, market: str | None) -> str | None:
    """The contract's verdict on the two pattern-checked fields (None: valid). Lengths are
    checked while decoding, in field order (the area comes first in these lines), and the
    patterns after it."""
    if not 1 <= len(area) <= 64:
        return "bad_value:policy_area"
    if market is not None and len(market) != 2:
        return "bad_value:market"
    if not (area[0] in _AREA_FIRST and all(c in _AREA_REST for c in area)):
        return "bad_value:policy_area"
    if market is not None and not all(c in string.ascii_uppercase for c in market):
        return "bad_value:market"
    return None


def make_line(area: str, market: str | None) -> bytes:
    fields = {} if market is None else {"market": market}
    return orjson.dumps(ev("report", 0, area, **fields))


def verdict_one(raw: bytes) -> str | None:
    result = decode_event(raw)
    return result.reason if isinstance(result, Rejected) else None


def verdicts_chunked(lines: list[bytes]) -> list[str | None]:
    out: list[str | None] = [None] * len(lines)

    def reject(lineno: int, rejected: Rejected, raw: bytes) -> None:
        out[lineno - 1] = rejected.reason

    for _ in decode_chunks(lines, reject, size=3):
        pass
    return out


# Values that are valid in one field and not the other, in both cases, plus arbitrary text.
SHARED_VALUES = ["DE", "de", "FR", "fr", "ab", "AB", "x1", "X1", "de\n", "DE\n", "a_b"]
values = st.one_of(st.sampled_from(SHARED_VALUES),
                   st.text(alphabet="abAB_1\n", min_size=1, max_size=3))
pairs = st.tuples(values, st.one_of(st.none(), values))


@settings(max_examples=300, deadline=None)
@given(st.lists(pairs, min_size=1, max_size=12))
def test_each_verdict_depends_on_its_line_alone(sequence: list[tuple[str, str | None]]) -> None:
    lines = [make_line(a, m) for a, m in sequence]
    expected = [expected_reason(a, m) for a, m in sequence]
    assert [verdict_one(raw) for raw in lines] == expected
    assert verdicts_chunked(lines) == expected
    # And once more in reverse, after everything above was seen in the other order.
    assert [verdict_one(raw) for raw in reversed(lines)] == expected[::-1]
    assert verdicts_chunked(lines[::-1]) == expected[::-1]


def test_an_uppercase_area_stays_invalid_after_the_same_string_as_a_market() -> None:
    area_de = make_line("DE", None)
    assert verdict_one(area_de) == "bad_value:policy_area"
    assert verdict_one(make_line("youth_safety", "DE")) is None
    assert verdict_one(area_de) == "bad_value:policy_area"
    assert verdicts_chunked([make_line("youth_safety", "DE"), area_de]) == [
        None, "bad_value:policy_area"]


def test_a_lowercase_market_stays_invalid_after_the_same_string_as_an_area() -> None:
    market_fr = make_line("youth_safety", "fr")
    assert verdict_one(market_fr) == "bad_value:market"
    assert verdict_one(make_line("fr", None)) is None
    assert verdict_one(market_fr) == "bad_value:market"
    assert verdicts_chunked([make_line("fr", None), market_fr]) == [None, "bad_value:market"]


def test_a_trailing_newline_does_not_satisfy_the_area_pattern() -> None:
    # The schema's pattern is ECMA-262, where "$" is the end of the string; Python's "$"
    # also matches before a final newline.
    assert verdict_one(make_line("youth_safety\n", None)) == "bad_value:policy_area"
