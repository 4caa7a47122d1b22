"""Snapshots of a :class:`signals.threats.ThreatDetector`, for a worker's changelog table.

JSON-ready builtins only (sketches as base64 of DataSketches' own serialization, which is
portable across its languages), so the state fits the same records as
:meth:`signals.merge.AreaMerge.to_state`. Restoring into a detector built from the same
config continues exactly as if it had never stopped (tested).

Closed episodes are bounded like the evaluator's (:func:`signals.snapshots.keep_recent`):
the open ones and the newest ``keep_closed`` closed ones are kept, in the snapshot and in
the detector (older ones were handed out when they closed), so neither grows with uptime.
Nothing the detector decides depends on a closed episode.
"""

from __future__ import annotations

import base64
from collections import deque
from typing import Any

import msgspec
from datasketches import frequent_strings_sketch

from signals._tagcount import TagCounts, summed
from signals.concentration import Concentration, _MeasureState
from signals.drops import Drops
from signals.emerging import EmergingTags, _Block, _StreamState
from signals.records import Episode
from signals.snapshots import KEEP_CLOSED_EPISODES, keep_recent
from signals.threat_types import AreaPane
from signals.threats import ThreatDetector


def to_state(d: ThreatDetector, keep_closed: int = KEEP_CLOSED_EPISODES) -> dict[str, Any]:
    kept = keep_recent(d.episodes, keep_closed)
    if kept is not d.episodes:
        d.episodes[:] = kept  # in place: drivers may hold the list
    episodes = d.episodes
    index = {id(e): i for i, e in enumerate(episodes)}
    return {
        "pending": {a: {str(p): [{s: t.to_dict() for s, t in x.tags.items()}, x.owners,
                                 x.totals, x.overflow] for p, x in ps.items()}
                    for a, ps in d._pending.items()},
        "closed": d._closed,
        "open": [[a, i, subject, index[id(e)]] for (a, i), opened in d._open.items()
                 for subject, e in opened.items()],
        "episodes": [msgspec.to_builtins(e) for e in episodes],
        "late_panes": d.late_panes,
        "overflow": d.overflow,
        "emerging": _emerging(d.emerging),
        "concentration": _concentration(d.concentration),
        "drops": [_drops(x) for x in d.detectors if isinstance(x, Drops)],
    }


def restore(d: ThreatDetector, state: dict[str, Any]) -> None:
    d._pending = {a: {int(p): AreaPane({s: TagCounts(0, t) for s, t in x[0].items()}, *x[1:])
                      for p, x in ps.items()} for a, ps in state["pending"].items()}
    d._closed = {a: int(v) for a, v in state["closed"].items()}
    d.episodes = [msgspec.convert(e, Episode) for e in state["episodes"]]
    d._open = {}
    for area, i, subject, at in state["open"]:
        d._open.setdefault((area, int(i)), {})[subject] = d.episodes[at]
    d.late_panes, d.overflow = state["late_panes"], state["overflow"]
    _restore_emerging(d.emerging, state["emerging"])
    _restore_concentration(d.concentration, state["concentration"])
    drops = [x for x in d.detectors if isinstance(x, Drops)]
    for detector, part in zip(drops, state["drops"], strict=True):
        _restore_drops(detector, part)


def _key(k: tuple[str, str]) -> str:
    return f"{k[0]}|{k[1]}"


def _unkey(text: str) -> tuple[str, str]:
    area, _, part = text.partition("|")
    return area, part


def _emerging(e: EmergingTags) -> dict[str, Any]:
    return {"state": {_key(k): {
        "window": [[p, tags.to_dict()] for p, tags in st.window],
        "blocks": [[b.start, base64.b64encode(b.sketch.serialize()).decode()]
                   for b in st.blocks],
        "block_start": st.block_start,
        "block": summed(st.block).to_dict() if st.block else None,
        "first_fed": st.first_fed, "fed_until": st.fed_until,
    } for k, st in e._state.items()}, "top": e.top}


def _restore_emerging(e: EmergingTags, state: dict[str, Any]) -> None:
    e._state = {}
    for key, s in state["state"].items():
        # Snapshots of the dict-based version also list each pane's repeated tags.
        window = deque((p, TagCounts(0, tags)) for p, tags, *_ in s["window"])
        e._state[_unkey(key)] = _StreamState(
            window=window,
            blocks=deque(_Block(start, frequent_strings_sketch.deserialize(
                base64.b64decode(raw))) for start, raw in s["blocks"]),
            block_start=s["block_start"],
            block=_block(s["block"]),
            first_fed=s["first_fed"], fed_until=s["fed_until"])
    e.top = {a: [(s, t, n) for s, t, n in rows] for a, rows in state["top"].items()}


def _block(saved: dict[str, int] | list[list[Any]] | None) -> list[TagCounts]:
    """The filling block's exact counts, as one table (saved summed); the dict-based
    version saved a list of its panes (each [counts, repeated tags])."""
    if isinstance(saved, list):
        return [TagCounts(0, pane[0]) for pane in saved]
    return [] if saved is None else [TagCounts(0, saved)]


def _concentration(c: Concentration) -> dict[str, Any]:
    return {"state": {_key(k): {
        "window": [[p, owned, total] for p, owned, total in st.window],
        "current": st.current, "total": st.total, "previous_top": sorted(st.previous_top),
    } for k, st in c._state.items()}, "shares": c.shares}


def _restore_concentration(c: Concentration, state: dict[str, Any]) -> None:
    c._state = {_unkey(k): _MeasureState(
        window=deque((p, owned, total) for p, owned, total in s["window"]),
        current=dict(s["current"]), total=s["total"],
        previous_top=frozenset(s["previous_top"])) for k, s in state["state"].items()}
    c.shares = {a: dict(v) for a, v in state["shares"].items()}


def _drops(d: Drops) -> dict[str, Any]:
    return {"state": {_key(k): {
        "window": [list(w) for w in st.window], "current": st.current,
        "history": list(st.history),
        "seasonal": None if st.seasonal is None else st.seasonal.to_state(),
    } for k, st in d._state.items()},
        "levels": [[*k, n, ref] for k, (n, ref) in d.levels.items()]}


def _restore_drops(d: Drops, state: dict[str, Any]) -> None:
    if "levels" not in state:  # written before the seasonal reference: no slots yet
        state = {"state": state, "levels": []}
    d._state = {}
    for k, s in state["state"].items():
        st = d._state[_unkey(k)] = d.new_state()
        st.window = deque((p, n) for p, n in s["window"])
        st.current = s["current"]
        st.history.extend(s["history"])
        if st.seasonal is not None and s.get("seasonal") is not None:
            st.seasonal.restore(s["seasonal"])
    d.levels = {(area, measure): (n, float(ref)) for area, measure, n, ref in state["levels"]}
