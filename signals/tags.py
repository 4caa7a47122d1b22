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
from itertools import chain

from signals.counts import Counts
from signals.events import Appeal, Decision, Event, Report
from signals.keys import Bucket


def settle_bucket(bucket: Bucket, cap: int) -> None:
    for counts in bucket.values():
        if counts.held is not None:
            settle(counts, cap)


def settle(counts: Counts, cap: int) -> None:
    """Count ``counts.held`` into ``tags``, ``owners`` and ``automated``; empties it.

    A pane settled twice (a snapshot, then the close) adds the second part to the first.
    """
    held = counts.held or []
    counts.held = None
    reports = [e for e in held if type(e) is Report]
    decisions = [e for e in held if type(e) is Decision]
    appeals = [e for e in held if type(e) is Appeal]
    counts.automated += sum(1 for e in decisions if e.detection == "automated")
    tags = {stream: _capped(counts, Counter(chain.from_iterable(e.tags for e in events)),
                            cap)
            for stream, events in (("report", reports), ("decision", decisions),
                                   ("appeal", appeals))}
    owners = {
        "reports": Counter(e.advertiser_id for e in reports if e.advertiser_id is not None),
        "violations": Counter(e.advertiser_id for e in decisions
                              if e.advertiser_id is not None and e.verdict == "violating"),
        "appeals": Counter(e.advertiser_id for e in appeals
                           if e.advertiser_id is not None and e.stage == "filed"),
    }
    counts.tags = _joined(counts.tags, tags, counts, cap)
    counts.owners = _joined(counts.owners, {m: _capped(counts, c, cap)
                                            for m, c in owners.items()}, counts, cap)


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
