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
        assert table.sorted_items(n) == sorted((t, k) for t, k in want.items() if k >= n)


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
])
def test_bad_arguments_are_refused(impl: ModuleType, call: Any, error: Any) -> None:
    with pytest.raises(error):
        call(impl.TagCounts(4))


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("counts", [{"a": -1}, {"a": "3"}, {"a": 1.5}, {3: 1}])
def test_a_bad_snapshot_is_refused(impl: ModuleType, counts: dict[Any, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        impl.TagCounts(4, counts)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_a_negative_cap_is_refused(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="cap"):
        impl.TagCounts(-1)
