"""Fit one rule's level to its history: excursions above a level, counted against a budget.

An *excursion* is a maximal run of consecutive windows whose judged score (or, for an
absolute rule, value) is above a level; the alert machine can raise at most one episode per
excursion (``for`` and ``min_samples`` only remove some), so counting excursions bounds the
alerts a level would have raised. The fitted level is the lowest one whose excursions,
after up to ``trim`` of the highest are set aside as presumed incidents (only those that are
short and stand apart from the next one), number at most the budget.

Where the budget allows less than one excursion in the history (a day of history and a
budget of a fraction of a page per rule per day), the history cannot show the level; it is
extrapolated from the highest remaining peak: for a surprise score by ``log10(1 / allowed)``
(a score of s is a 10^-s chance per window if nothing changed, so each further point is ten
times rarer), for a ratio or a value by the same number of ``1 + EXTRA_STEP`` factors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# A value or ratio past the highest quiet peak by this factor per tenfold rarer target: a
# stated guess (such tails are not known in general, unlike a surprise score's); 0.1 let a
# small area's report volume page on its Poisson noise on a random-profile platform.
EXTRA_STEP: Final = 0.2


@dataclass(frozen=True)
class Fit:
    level: float
    statistic: str  # how the level was derived, for the `why:` text
    excursions: int  # excursions in the whole history above the level
    trimmed: int  # excursions set aside as presumed incidents


# An excursion is set aside only this far past the next one: 100 times rarer as a surprise
# score, twice as high as a value or ratio (a p95 ratio of a thin window is heavy-tailed).
SCORE_GAP: Final = 2.0
VALUE_GAP: Final = 2.0
# Only an excursion shorter than this share of the history (or TRIM_MAX_WINDOWS, when more)
# can be set aside as an incident: a rise lasting a good part of a long history (a daily
# peak of volume) is the platform's normal; an incident of 10-20 minutes with 10-minute
# windows makes runs of 20-30 windows.
TRIM_MAX_SHARE: Final = 0.05
TRIM_MAX_WINDOWS: Final = 60


def excursion_runs(values: Sequence[float | None], floor: float) -> list[tuple[float, int]]:
    """(peak, length in windows) of every run of consecutive values above ``floor``,
    highest peak first."""
    runs: list[tuple[float, int]] = []
    peak: float | None = None
    length = 0
    for v in values:
        if v is not None and v > floor:
            peak = v if peak is None else max(peak, v)
            length += 1
        elif peak is not None:
            runs.append((peak, length))
            peak, length = None, 0
    if peak is not None:
        runs.append((peak, length))
    return sorted(runs, key=lambda r: -r[0])


def excursion_peaks(values: Sequence[float | None], floor: float) -> list[float]:
    """The peak of every run of consecutive values above ``floor``, highest first."""
    return [peak for peak, _ in excursion_runs(values, floor)]


def count_above(values: Sequence[float | None], level: float) -> int:
    """Excursions strictly above ``level`` (what a level of exactly ``level`` would see:
    the alert machine needs a value past it, so a value equal to it does not breach)."""
    return len(excursion_peaks(values, level))


def fit_level(values: Sequence[float | None], allowed: float, trim: int, score: bool,
              floor: float) -> Fit:
    """The lowest level with at most ``allowed`` excursions above it (after ``trim``).

    ``values``: the windows in order; ``score``: the values are -log10 p surprise scores;
    ``floor``: the least level that may be returned (and below which runs are not counted).
    """
    runs = excursion_runs(values, floor)
    peaks = [peak for peak, _ in runs]
    longest = max(TRIM_MAX_SHARE * len(values), TRIM_MAX_WINDOWS)
    short = []
    for i, (peak, length) in enumerate(runs[:trim]):
        rest = runs[i + 1][0] if i + 1 < len(runs) else floor
        # Set aside only what stands apart from the rest: a quiet history's top peaks
        # cluster, an incident's does not.
        apart = peak >= rest + SCORE_GAP if score else peak >= rest * VALUE_GAP
        if length > longest or not apart:
            break
        short.append(i)
    kept = [peak for i, (peak, _) in enumerate(runs) if i not in short]
    trim = len(short)
    whole = math.floor(allowed)
    if allowed >= 1 and len(kept) > whole:
        # A level at the (whole+1)-th peak: that peak and all lower ones stay at or below it.
        level = kept[whole]
        stat = (f"the {_ordinal(whole + 1)} highest of {len(peaks)} excursion peaks "
                f"(budget {allowed:.2f} in the history, {trim} highest set "
                "aside)")
    else:
        top = kept[0] if kept else floor
        rarer = math.log10(1 / allowed) if 0 < allowed < 1 else 0.0
        if score:
            level = top + rarer
            how = f"+ log10(1/{allowed:.3g}) = +{rarer:.2f}"
        else:
            level = top * (1 + EXTRA_STEP) ** rarer if top > 0 else floor
            how = f"x {1 + EXTRA_STEP:g}^{rarer:.2f}"
        source = "highest remaining excursion peak" if kept else "the floor (no excursion)"
        stat = (f"{source} {top:.3g} {how} (budget {allowed:.3g} excursions in the history; "
                f"{trim} highest of {len(peaks)} set aside)")
    level = max(level, floor)
    return Fit(_round_up(level), stat, count_above(values, _round_up(level)), trim)


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _round_up(v: float) -> float:
    """Three significant digits, rounded up so the written level is never below the fit."""
    if v <= 0:
        return round(v, 6)
    digits = 2 - math.floor(math.log10(v))
    scale = 10.0 ** digits
    return math.ceil(v * scale - 1e-9) / scale
