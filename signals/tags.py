"""Per-pane tag and advertiser counts, settled in bulk when a pane closes.

The hot loop (:meth:`signals.ingest.Ingest.ingest_batch`) only appends each event of an
area to its open pane's ``Counts.held``; here the pane's tags are counted per stream and
its advertisers per measure with :class:`collections.Counter` over whole lists (C loops),
which costs a fraction of counting event by event. Each dict keeps at most ``cap`` keys
(the most frequent, ties by key, so the choice does not depend on arrival order); the
occurrences of the keys left out are counted in ``Counts.overflow``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain

from signals.counts import Counts
from signals.events import Appeal, Decision, Event, Report
from signals.keys import Bucket
from signals.threats_config import ThreatsConfig

_TYPES: dict[str, type] = {"report": Report, "decision": Decision, "appeal": Appeal}


@dataclass(frozen=True)
class TagSpec:
    """What the enabled detectors need counted per pane, and the cap per dict."""

    cap: int
    streams: tuple[str, ...]  # tags of these streams (emerging tags)
    measures: tuple[str, ...]  # advertisers of these measures (concentration)
    automated: bool  # automated decisions (drops)


def tag_spec(cfg: ThreatsConfig) -> TagSpec:
    return TagSpec(cfg.pane_cap,
                   cfg.emerging.streams if cfg.emerging.enabled else (),
                   cfg.concentration.measures if cfg.concentration.enabled else (),
                   cfg.drops.enabled and "automated" in cfg.drops.measures)


def settle_bucket(bucket: Bucket, spec: TagSpec) -> None:
    for counts in bucket.values():
        if counts.held is not None:
            settle(counts, spec)


def settle(counts: Counts, spec: TagSpec) -> None:
    """Count ``counts.held`` into ``tags``, ``owners`` and ``automated``; empties it.

    Each part is counted only when a detector needs it. A pane settled twice (a snapshot,
    then the close) adds the second part to the first.
    """
    held = counts.held or []
    counts.held = None
    cap = spec.cap
    by_type: dict[str, list[Event]] = {
        s: [e for e in held if type(e) is t] for s, t in _TYPES.items()}
    decisions = [e for e in by_type["decision"] if isinstance(e, Decision)]
    if spec.automated:
        counts.automated += sum(e.detection == "automated" for e in decisions)
    tags = {stream: _capped(counts, Counter(chain.from_iterable(
        e.tags for e in by_type[stream])), cap) for stream in spec.streams}
    owners = {}
    for measure in spec.measures:
        if measure == "reports":
            ids = [e.advertiser_id for e in by_type["report"]]
        elif measure == "violations":
            ids = [e.advertiser_id for e in decisions if e.verdict == "violating"]
        else:
            ids = [e.advertiser_id for e in by_type["appeal"]
                   if isinstance(e, Appeal) and e.stage == "filed"]
        owners[measure] = _capped(counts, Counter(i for i in ids if i is not None), cap)
    counts.tags = _joined(counts.tags, tags, counts, cap)
    counts.owners = _joined(counts.owners, owners, counts, cap)


def _capped(counts: Counts, counted: Counter[str], cap: int) -> dict[str, int]:
    if len(counted) <= cap:
        return dict(counted)
    kept = sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))
    counts.overflow += sum(n for _, n in kept[cap:])
    return dict(kept[:cap])


def _joined(have: dict[str, dict[str, int]] | None, new: dict[str, dict[str, int]],
            counts: Counts, cap: int) -> dict[str, dict[str, int]] | None:
    out = {k: v for k, v in new.items() if v}
    if have:
        for name, part in have.items():
            merged = Counter(out.get(name, {}))
            merged.update(part)
            out[name] = _capped(counts, merged, cap)
    return out or None


def add_event_threats(counts: Counts, event: Event) -> None:
    """One event held for the next settle (what the hot loop does inline)."""
    if counts.held is None:
        counts.held = []
    counts.held.append(event)
