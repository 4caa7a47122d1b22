"""signals._clock.micros: the compiled helper and its pure fallback agree with datetime.

Once ``scripts/build-native.sh`` has built ``signals/_clock*.so``, ``import signals._clock``
loads the C helper and the pure one is loaded from its file beside it, so every test below
compares the two; ``test_the_c_helper_is_under_test_when_built`` proves that (CI's compiled
pass sets ``HARMWATCH_EXPECT_NATIVE=1``, so a missing build fails instead of comparing the
pure code with itself).
"""

from __future__ import annotations

import datetime as dt
import importlib.machinery
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import BuiltinFunctionType, ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

import signals._clock as loaded

LOADED_FROM = Path(loaded.__file__ or "")
PURE_PATH = LOADED_FROM.with_name("_clock.py")


def _pure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_clock_pure", PURE_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE = _pure()
BUILT = sorted(p for suffix in importlib.machinery.EXTENSION_SUFFIXES
               for p in PURE_PATH.parent.glob(f"_clock{suffix}"))
EXPECT_NATIVE = os.environ.get("HARMWATCH_EXPECT_NATIVE") == "1"
Micros = Callable[[dt.datetime], int]
IMPLEMENTATIONS: list[Micros] = [PURE.micros, loaded.micros]


def test_the_c_helper_is_under_test_when_built() -> None:
    if BUILT or EXPECT_NATIVE:
        assert BUILT, ("HARMWATCH_EXPECT_NATIVE=1 but signals/_clock*.so does not exist: "
                       "run `bash scripts/build-native.sh`")
        assert LOADED_FROM in BUILT
        assert isinstance(loaded.micros, BuiltinFunctionType)
        assert not isinstance(PURE.micros, BuiltinFunctionType)
    else:
        # No build: only the pure helper exists, and it is the one imported.
        assert LOADED_FROM == PURE_PATH

offsets = st.integers(min_value=-23 * 3600, max_value=23 * 3600).map(
    lambda s: dt.timezone(dt.timedelta(seconds=s)))
# hypothesis wants naive bounds; ``timezones`` makes every generated value aware.
NAIVE_MIN, NAIVE_MAX = dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)  # noqa: DTZ001
aware = st.datetimes(min_value=NAIVE_MIN, max_value=NAIVE_MAX,
                     timezones=st.one_of(st.just(dt.UTC), offsets))


@given(aware)
def test_micros_is_exact_and_matches_timestamp(d: dt.datetime) -> None:
    exact = (d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    for micros in IMPLEMENTATIONS:
        assert micros(d) == exact
        if abs(exact) < 2**53:
            assert micros(d) / 1e6 == d.timestamp()


@given(aware, aware)
def test_difference_matches_total_seconds(a: dt.datetime, b: dt.datetime) -> None:
    for micros in IMPLEMENTATIONS:
        if abs(micros(a) - micros(b)) < 2**53:
            assert (micros(a) - micros(b)) / 1e6 == (a - b).total_seconds()


@pytest.mark.parametrize("micros", IMPLEMENTATIONS, ids=["pure", "loaded"])
def test_naive_datetimes_are_refused(micros: Micros) -> None:
    with pytest.raises(ValueError):
        micros(dt.datetime(2026, 1, 1))  # naive on purpose  # noqa: DTZ001


def test_leap_days_and_the_epoch() -> None:
    for micros in IMPLEMENTATIONS:
        assert micros(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == 0
        assert micros(dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC)) == 1709208000 * 10**6
        assert micros(dt.datetime(2000, 3, 1, tzinfo=dt.UTC)) == 951868800 * 10**6
        assert micros(dt.datetime(1900, 3, 1, tzinfo=dt.UTC)) == -2203891200 * 10**6
