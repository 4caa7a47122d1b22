"""Fitting one rule's level to a history: hand-counted excursions and a known distribution."""

from __future__ import annotations

import math
import random

import pytest

from streams.backtest.calibrate_fit import count_above, excursion_peaks, fit_level


def test_excursions_are_runs_above_the_floor_counted_by_hand() -> None:
    values = [0.0, 3.0, 3.5, 0.0, None, 5.0, 1.0, 4.0, 4.5, 2.5]
    # Runs above 2: (3, 3.5), (5), (4, 4.5, 2.5); None breaks nothing that was not running.
    assert excursion_peaks(values, 2.0) == [5.0, 4.5, 3.5]
    assert count_above(values, 4.5) == 1  # only the 5: a value equal to a level is no breach
    assert count_above(values, 3.0) == 3


def test_level_leaves_exactly_the_budget_of_excursions_above_it() -> None:
    values = [0.0, 3.0, 0.0, 5.0, 0.0, 4.0, 0.0, 6.0, 0.0]
    fit = fit_level(values, allowed=2.0, trim=0, score=True, floor=2.0)
    assert fit.level == 4.0  # peaks 6, 5, 4, 3: two above 4
    assert fit.excursions == 2


def test_an_excursion_apart_from_the_rest_is_set_aside_one_that_is_not_is_kept() -> None:
    quiet = [0.0, 3.0, 0.0, 5.0, 0.0, 4.0, 0.0] * 10
    incident = [*quiet, 20.0, 25.0, 0.0]
    # With the incident set aside the fit is the quiet one's.
    assert (fit_level(incident, 2.0, trim=1, score=True, floor=2.0).level
            == fit_level(quiet, 2.0, trim=0, score=True, floor=2.0).level == 5.0)
    # 6 is not 2 points past the next peak (5): noise, kept, and it sets the level.
    close = [*quiet, 6.0, 0.0]
    fit = fit_level(close, 0.5, trim=1, score=True, floor=2.0)
    assert fit.trimmed == 0
    assert fit.level == pytest.approx(6.0 + math.log10(2), abs=0.01)


def test_extrapolation_below_one_excursion_in_the_history() -> None:
    values = [0.0, 3.0, 0.0, 4.0, 0.0]
    # A score: each further point is ten times rarer, so 1/100 of an excursion is +2.
    assert fit_level(values, 0.01, 0, score=True, floor=2.0).level == pytest.approx(6.0)
    # A value: 1.2 per tenfold: 4 x 1.44.
    assert fit_level(values, 0.01, 0, score=False, floor=0.0).level == pytest.approx(
        5.76)


def test_level_matches_the_known_quantile_of_a_surprise_score() -> None:
    """-log10 of a uniform p: P(score > s) = 10^-s per window. Independent windows, so for
    rare levels the excursions above s number about N 10^-s, and the level leaving a
    alone is log10(N / a). With a = 10 the count is Poisson(10): ±0.3 is over 2 sigma of
    log10(1 ± 1/sqrt(10))."""
    rng = random.Random(42)
    n, allowed = 100_000, 10.0
    values = [-math.log10(1.0 - rng.random()) for _ in range(n)]
    fit = fit_level(values, allowed, trim=0, score=True, floor=2.0)
    assert fit.level == pytest.approx(math.log10(n / allowed), abs=0.3)
    assert fit.excursions <= allowed
