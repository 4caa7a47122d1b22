"""Per-pane tag and advertiser counts, settled in bulk when a pane closes.

The hot loop (:meth:`signals.ingest.Ingest.ingest_batch`) counts each event's tags into
its pane (at most ``cap`` distinct per stream: first come; the rest are counted in
``Counts.overflow``) and holds the events that name an advertiser; here, when the pane
closes, those are counted per measure with :class:`collections.Counter`, keeping at most
``cap`` (the most frequent, ties by id, so the choice does not depend on arrival order).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from signals.counts import Counts
from signals.events import Appeal, Decision, Report
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

    @property
    def stream_names(self) -> dict[type, str]:
        """Event type -> stream name, for the streams whose tags are counted."""
        return {_TYPES[s]: s for s in self.streams}


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
    """Count the advertisers of ``counts.held`` into ``owners``; empties it. (Tags and
    automated decisions are counted as events come, in the hot loop.)

    A pane settled twice (a snapshot, then the close) adds the second part to the first.
    """
    held = counts.held or []
    counts.held = None
    owners = {}
    for measure in spec.measures:
        if measure == "reports":
            ids = [e.advertiser_id for e in held if type(e) is Report]
        elif measure == "violations":
            ids = [e.advertiser_id for e in held
                   if isinstance(e, Decision) and e.verdict == "violating"]
        else:
            ids = [e.advertiser_id for e in held if isinstance(e, Appeal) and e.stage == "filed"]
        owners[measure] = _capped(counts, Counter(i for i in ids if i is not None), spec.cap)
    counts.owners = _joined(counts.owners, owners, counts, spec.cap)


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


