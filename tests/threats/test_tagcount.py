"""signals._tagcount.TagCounts: the C table and its pure fallback give the answers of a
naive count done here.

Once ``scripts/build-native.sh`` has built ``signals/_tagcount*.so``, ``import
signals._tagcount`` loads the C table and the pure one is loaded from its file beside it,
so every test runs against both; ``test_the_c_table_is_under_test_when_built`` proves it
(CI's compiled pass sets ``HARMWATCH_EXPECT_NATIVE=1``, so a missing build fails instead of
comparing the pure code with itself).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import signals._tagcount as loaded

LOADED_FROM = Path(loaded.__file__ or "")
PURE_PATH = LOADED_FROM.with_name("_tagcount.py")


def _pure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_tagcount_pure", PURE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE = _pure()
BUILT = sorted(p for suffix in importlib.machinery.EXTENSION_SUFFIXES
               for p in PURE_PATH.parent.glob(f"_tagcount{suffix}"))
EXPECT_NATIVE = os.environ.get("HARMWATCH_EXPECT_NATIVE") == "1"
IMPLEMENTATIONS = [pytest.param(PURE, id="pure"), pytest.param(loaded, id="loaded")]

# Short tags from a small alphabet collide often; the rest cover every kind of str:
# Latin-1, the BMP, astral planes and lone surrogates (JSON can carry "\udc80").
TAG = st.one_of(st.sampled_from(["a", "b", "t1", "t2", "é", "日本", "😀", "\udc80"]),
                st.text(max_size=12))


def test_the_c_table_is_under_test_when_built() -> None:
    if BUILT or EXPECT_NATIVE:
        assert BUILT, ("HARMWATCH_EXPECT_NATIVE=1 but signals/_tagcount*.so does not exist: "
                       "run `bash scripts/build-native.sh`")
        assert LOADED_FROM in BUILT
        assert loaded.TagCounts is not PURE.TagCounts
        # A C method is a method descriptor; a Python one is a plain function.
        assert loaded.TagCounts.add.__class__.__name__ == "method_descriptor"
        assert PURE.TagCounts.add.__class__.__name__ == "function"
    else:
        assert LOADED_FROM == PURE_PATH


def _naive(events: list[list[str]], cap: int) -> tuple[dict[str, int], int]:
    """First come, first kept: the first ``cap`` distinct tags, every occurrence of them."""
    kept: dict[str, int] = {}
    dropped = 0
    for tags in events:
        for tag in tags:
            if tag in kept:
                kept[tag] += 1
            elif len(kept) < cap:
                kept[tag] = 1
            else:
                dropped += 1
    return kept, dropped


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.lists(TAG, max_size=6), max_size=60),
       cap=st.integers(min_value=0, max_value=12))
def test_counts_equal_a_naive_count_with_the_cap_in_arrival_order(
        impl: ModuleType, events: list[list[str]], cap: int) -> None:
    table = impl.TagCounts(cap)
    dropped = sum(table.add(tags) for tags in events)
    want, want_dropped = _naive(events, cap)
    assert dropped == want_dropped
    assert table.to_dict() == want
    assert list(table.to_dict()) == list(want)  # first-insertion order, as a dict
    assert table.items() == list(want.items())
    assert len(table) == len(want)
    assert table == want
    for tag in {t for tags in events for t in tags} | {"never-added"}:
        assert table.get(tag) == want.get(tag, 0)
    for n in (1, 2, 3):
        assert table.at_least(n) == [t for t, k in want.items() if k >= n]
        # By code point, which is what Python's sorted() does on str.
        fed: list[tuple[str, int]] = []
        table.feed(lambda tag, k, into=fed: into.append((tag, k)), n)
        assert fed == sorted((t, k) for t, k in want.items() if k >= n)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.lists(st.lists(TAG, max_size=5), max_size=20), max_size=5))
def test_add_counts_and_summed_add_up_without_a_cap(
        impl: ModuleType, parts: list[list[list[str]]]) -> None:
    tables = []
    for events in parts:
        t = impl.TagCounts(3)
        for tags in events:
            t.add(tags)
        tables.append(t)
    want: Counter[str] = Counter()
    for events in parts:
        want.update(_naive(events, 3)[0])
    total = impl.summed(tables)
    assert total.to_dict() == dict(want)
    into = impl.TagCounts(0)
    for t in tables:
        into.add_counts(t)
    assert into.to_dict() == dict(want)  # add_counts ignores the cap of the table it fills


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_table_from_a_snapshot_goes_on_counting_under_its_cap(impl: ModuleType) -> None:
    table = impl.TagCounts(3, {"x": 4, "é": 1})
    assert table.to_dict() == {"x": 4, "é": 1}
    assert table.add(["y", "z", "x", "é"]) == 1  # y fits, z does not: three distinct
    assert table.to_dict() == {"x": 5, "é": 2, "y": 1}
    assert table.cap == 3
    # A snapshot may hold more than the cap (a merged pane): all of it is kept.
    assert len(impl.TagCounts(1, {"a": 1, "b": 2, "c": 3})) == 3


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_table_grows_far_past_its_first_allocation(impl: ModuleType) -> None:
    table = impl.TagCounts(1_000_000)
    want: dict[str, int] = {}
    for i in range(60_000):
        tag = f"trend-{i * 7919 % 20_011}"
        table.add([tag])
        want[tag] = want.get(tag, 0) + 1
    assert table == want
    assert len(table) == 20_011


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_equality_with_tables_and_dicts_only(impl: ModuleType) -> None:
    a, b = impl.TagCounts(5), impl.TagCounts(9)
    a.add(["p", "q", "p"])
    b.add(["q", "p", "p"])
    assert a == b  # the counts, not the cap or the order
    assert a == {"p": 2, "q": 1}
    assert a != {"p": 2}
    assert (a == [("p", 2), ("q", 1)]) is False
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize(("call", "error"), [
    (lambda t: t.add([1]), TypeError),
    (lambda t: t.add(None), TypeError),
    (lambda t: t.get(b"bytes"), TypeError),
    (lambda t: t.add_counts({"a": 1}), TypeError),
    (lambda t: t.feed(None, 1) if t.add(["a"]) == 0 else None, TypeError),
])
def test_bad_arguments_are_refused(impl: ModuleType, call: Any, error: Any) -> None:
    with pytest.raises(error):
        call(impl.TagCounts(4))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("counts", [{"a": -1}, {"a": 0}, {"a": "3"}, {"a": 1.5}, {3: 1}])
def test_a_bad_snapshot_is_refused(impl: ModuleType, counts: dict[Any, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        impl.TagCounts(4, counts)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_negative_cap_is_refused(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="cap"):
        impl.TagCounts(-1)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.lists(st.lists(TAG, max_size=5), max_size=20), max_size=5))
def test_count_tags_per_stream_equals_a_naive_count(
        impl: ModuleType, parts: list[list[list[str]]]) -> None:
    per: dict[str, Any] = {}
    dropped = 0
    for i, events in enumerate(parts):
        for tags in events:
            dropped += impl.count_tags(per, f"s{i}", tags, 4)
    naive = [_naive(events, 4) for events in parts]
    assert dropped == sum(d for _, d in naive)
    # A stream gets its table on its first event, with or without tags.
    assert sorted(per) == sorted(f"s{i}" for i, events in enumerate(parts) if events)
    tables = [per[f"s{i}"] for i, events in enumerate(parts) if events]
    wanted = [want for (want, _), events in zip(naive, parts, strict=True) if events]
    assert [t.to_dict() for t in tables] == wanted


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None)
@given(panes=st.lists(st.lists(TAG, max_size=8), min_size=1, max_size=30),
       width=st.integers(min_value=1, max_value=6))
def test_a_running_total_equals_the_sum_of_the_panes_it_holds(
        impl: ModuleType, panes: list[list[str]], width: int) -> None:
    """A sliding window: each pane added as it enters, subtracted as it leaves."""
    total = impl.TagCounts(0)
    held: list[Any] = []
    for i, tags in enumerate(panes):
        pane = impl.TagCounts(100)
        pane.add(tags)
        held.append(pane)
        total.add_counts(pane)
        if len(held) > width:
            total.subtract_counts(held.pop(0))
        # By hand: the tags of the last `width` panes, in the order a dict would hold them
        # (a tag that fell to zero is gone and comes back last).
        want: Counter[str] = Counter()
        for tags_in in panes[max(0, i + 1 - width):i + 1]:
            want.update(tags_in)
        assert total.to_dict() == dict(want)
        assert len(total) == len(want)
        for tag in set(tags):
            assert total.get(tag) == want[tag]
        assert sorted(total.at_least(2)) == sorted(t for t, k in want.items() if k >= 2)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_tag_back_after_falling_to_zero_comes_last_and_dead_entries_are_dropped(
        impl: ModuleType) -> None:
    total = impl.TagCounts(0)
    first = impl.TagCounts(10)
    first.add(["a", "b", "c"])
    total.add_counts(first)
    total.subtract_counts(impl.TagCounts(10, {"a": 1}))
    again = impl.TagCounts(10, {"a": 2})
    total.add_counts(again)
    assert total.items() == [("b", 1), ("c", 1), ("a", 2)]
    # Thousands of tags in and out: the table must still answer exactly.
    for round_ in range(50):
        pane = impl.TagCounts(1000)
        pane.add([f"r{round_}-{i}" for i in range(200)])
        total.add_counts(pane)
        total.subtract_counts(pane)
    assert total.to_dict() == {"b": 1, "c": 1, "a": 2}
    with pytest.raises(ValueError, match="below zero"):
        total.subtract_counts(impl.TagCounts(10, {"zz": 1}))
    with pytest.raises(ValueError, match="below zero"):
        total.subtract_counts(impl.TagCounts(10, {"b": 2}))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_count_tags_makes_the_table_once_with_the_cap_given(impl: ModuleType) -> None:
    per: dict[str, Any] = {}
    assert impl.count_tags(per, "report", ["a", "b"], 2) == 0
    first = per["report"]
    assert impl.count_tags(per, "report", ["c", "a"], 99) == 1  # the first call's cap holds
    assert per["report"] is first and first.to_dict() == {"a": 2, "b": 1}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@settings(max_examples=200, deadline=None)
@given(panes=st.lists(st.lists(TAG, max_size=10), max_size=16),
       n=st.integers(min_value=1, max_value=12), drop=st.integers(min_value=0, max_value=3))
def test_window_at_least_equals_a_full_sum_of_the_tables(
        impl: ModuleType, panes: list[list[str]], n: int, drop: int) -> None:
    """The pigeonhole search finds exactly the tags a full sum puts at n or more, with
    their totals, and each once; tables holding dead entries (a tag subtracted to 0)
    included."""
    tables = []
    for tags in panes:
        table = impl.TagCounts(100)
        table.add(tags)
        tables.append(table)
    want: Counter[str] = Counter()
    for tags in panes:
        want.update(tags)
    if tables and drop:
        # Kill the first `drop` tags of the first table: its entries go dead, not away.
        first = Counter(panes[0])
        gone = impl.TagCounts(0, {t: first[t] for t in list(first)[:drop]})
        tables[0].subtract_counts(gone)
        want.subtract(gone.to_dict())
    got = impl.window_at_least(tables, n)
    assert sorted(got) == sorted((t, k) for t, k in want.items() if k >= n)
    assert len({t for t, _ in got}) == len(got)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_window_at_least_finds_a_tag_spread_one_per_table(impl: ModuleType) -> None:
    tables = []
    for i in range(15):
        table = impl.TagCounts(10)
        table.add(["spread", f"other{i}"])
        tables.append(table)
    assert impl.window_at_least(tables, 15) == [("spread", 15)]
    assert impl.window_at_least(tables, 16) == []
    assert impl.window_at_least([], 3) == []
    with pytest.raises(ValueError, match="n must be"):
        impl.window_at_least(tables, 0)
    with pytest.raises(TypeError):
        impl.window_at_least([{"a": 1}], 1)
