"""One pane's tag counts for one area and stream (``scripts/build-native.sh`` replaces this
with ``_tagcount.c``).

The C table keeps each tag's characters in one growing buffer and its count in an array,
so a pane holds no Python object per tag: the detector keeps 45 minutes of panes, and
their millions of small strings and dict entries, scattered over the heap, were what made
the emerging-tag detector cost more than its instructions (docs/threats.md). This fallback
is a dict with the same methods and the same answers (``tests/threats/test_tagcount.py``
runs both).

Order: :meth:`items`, :meth:`at_least` and :meth:`to_dict` follow first insertion, as a
dict does; :meth:`feed` goes by tag (code points), independent of arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence


class TagCounts:
    __slots__ = ("_counts", "cap")

    def __init__(self, cap: int, counts: Mapping[str, int] | None = None) -> None:
        """``cap``: at most this many distinct tags are taken by :meth:`add`. ``counts``:
        start from these (a snapshot's), whatever their number."""
        if cap < 0:
            raise ValueError("cap must be >= 0")
        self.cap = cap
        self._counts: dict[str, int] = {}
        if counts is not None:
            for tag, n in counts.items():
                self._counts[_tag(tag)] = self._counts.get(tag, 0) + _count(n)

    def add(self, tags: Sequence[str]) -> int:
        """Count one occurrence of each tag; a tag new to a table that holds ``cap`` tags
        is not kept. Returns how many occurrences were not kept."""
        return _add(self._counts, self.cap, tags)

    def add_counts(self, other: TagCounts) -> None:
        """Add every count of ``other`` (no cap: a pane's parts from several sources)."""
        if not isinstance(other, TagCounts):
            raise TypeError(f"add_counts takes a TagCounts, not {type(other).__name__}")
        found = self._counts
        if not found:
            found.update(other._counts)  # one C call: the first pane into an empty total
            return
        get = found.get
        for tag, n in other._counts.items():
            found[tag] = get(tag, 0) + n

    def subtract_counts(self, other: TagCounts) -> None:
        """Take every count of ``other`` (added before) away; a tag at 0 is gone, and comes
        back last if added again."""
        if not isinstance(other, TagCounts):
            raise TypeError(f"subtract_counts takes a TagCounts, not {type(other).__name__}")
        found = self._counts
        for tag, n in other._counts.items():
            have = found.get(tag, 0)
            if have < n:
                raise ValueError("subtract_counts: a tag would fall below zero (it was not "
                                 "added)")
            if have == n:
                del found[tag]
            else:
                found[tag] = have - n

    def get(self, tag: str) -> int:
        return self._counts.get(_tag(tag), 0)

    def at_least(self, n: int) -> list[str]:
        """The tags counted ``n`` times or more."""
        return [t for t, k in self._counts.items() if k >= n]

    def items(self) -> list[tuple[str, int]]:
        return list(self._counts.items())

    def feed(self, update: Callable[[str, int], object], n: int) -> None:
        """``update(tag, count)`` for each tag counted ``n`` times or more, by tag (code
        points): a sketch fed so is the same however the events were partitioned."""
        for tag, k in sorted((t, k) for t, k in self._counts.items() if k >= n):
            update(tag, k)

    def to_dict(self) -> dict[str, int]:
        return dict(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TagCounts):
            return self._counts == other._counts
        if isinstance(other, dict):
            return self._counts == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict

    def __repr__(self) -> str:
        return f"TagCounts({self._counts!r})"


def summed(tables: Iterable[TagCounts]) -> TagCounts:
    """A new table with the counts of ``tables`` added up (no cap)."""
    out = TagCounts(0)
    for table in tables:
        out.add_counts(table)
    return out


def window_at_least(tables: Sequence[TagCounts], n: int) -> list[tuple[str, int]]:
    """(tag, total) of every tag whose counts over ``tables`` sum to ``n`` or more, in no
    set order. A tag with ``n`` over ``k`` tables has ``ceil(n / k)`` in one of them, so
    only those are summed: the long tail of a window is never added up."""
    if n < 1:
        raise ValueError("window_at_least: n must be >= 1")
    for table in tables:
        if not isinstance(table, TagCounts):
            raise TypeError(f"window_at_least() takes TagCounts, not {type(table).__name__}")
    if not tables:
        return []
    per = -(-n // len(tables))
    candidates: set[str] = set()
    for table in tables:
        candidates.update(table.at_least(per))
    out = []
    for tag in candidates:
        total = sum(table._counts.get(tag, 0) for table in tables)
        if total >= n:
            out.append((tag, total))
    return out


def count_tags(per: dict[str, TagCounts], stream: str, tags: Sequence[str], cap: int) -> int:
    """Add ``tags`` to ``per[stream]``, made with ``cap`` if absent: the hot loop's one call
    per event. Returns how many were not kept."""
    found = per.get(stream)
    if found is None:
        found = per[stream] = TagCounts(cap)
    return _add(found._counts, found.cap, tags)


def _add(found: dict[str, int], cap: int, tags: Sequence[str]) -> int:
    # The pure engine's hot loop: inline checks, no call per tag.
    dropped = 0
    get = found.get
    for tag in tags:
        if type(tag) is not str:
            _tag(tag)
        had = get(tag)
        if had is not None:
            found[tag] = had + 1
        elif len(found) < cap:
            found[tag] = 1
        else:
            dropped += 1
    return dropped


def _tag(tag: object) -> str:
    if not isinstance(tag, str):
        raise TypeError(f"a tag must be a str, not {type(tag).__name__}")
    return tag


def _count(n: object) -> int:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a tag count must be an int >= 1, not {n!r}")
    return n
