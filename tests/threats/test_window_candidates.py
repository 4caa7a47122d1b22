"""The emerging-tag candidates are found per pane (pigeonhole), not from a summed window:
they must be exactly the tags a full sum over the window's panes puts at min_count or
above, with the same counts, plus the held tags."""

from __future__ import annotations

import random
from collections import Counter, deque

import pytest

from signals._tagcount import TagCounts
from signals.emerging import _window_counts


def _by_hand(panes: list[Counter[str]], min_count: int,
             held: set[str]) -> list[tuple[str, int]]:
    total: Counter[str] = Counter()
    for pane in panes:
        total.update(pane)
    return sorted((tag, total[tag]) for tag in set(total) | held
                  if total[tag] >= min_count or tag in held)


@pytest.mark.parametrize("seed", range(40))
def test_candidates_equal_a_full_sum_of_the_window(seed: int) -> None:
    rng = random.Random(seed)
    panes = []
    for _ in range(rng.randint(1, 15)):
        pane: Counter[str] = Counter()
        # A tag spread thinly over many panes is the case the pigeonhole bound is for.
        for _ in range(rng.randint(0, 60)):
            pane[f"t{int(rng.paretovariate(0.8)) % 200}"] += 1
        pane["thin"] += rng.randint(0, 3)
        panes.append(+pane)
    min_count = rng.randint(1, 45)
    held = {"thin", "never-counted"} if seed % 2 else set()
    window = deque((i * 60, TagCounts(0, dict(p))) for i, p in enumerate(panes))
    assert _window_counts(window, min_count, held) == _by_hand(panes, min_count, held)


def test_a_tag_just_at_min_count_spread_one_per_pane_is_found() -> None:
    window = deque((i * 60, TagCounts(0, {"spread": 1, f"other{i}": 1})) for i in range(15))
    assert _window_counts(window, 15, set()) == [("spread", 15)]
    assert _window_counts(window, 16, set()) == []


def test_an_empty_window_gives_only_the_held_tags_at_zero() -> None:
    assert _window_counts(deque(), 40, {"b", "a"}) == [("a", 0), ("b", 0)]
