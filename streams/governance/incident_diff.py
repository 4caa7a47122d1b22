"""What a config change does to the known incidents: newly caught, lost, earlier, later.

Each config's episodes are scored on their own with the fixed matching rule of
:mod:`streams.backtest.scoring` (over that replay's event time), then the two results are
paired incident by incident. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from signals.records import Episode
from streams.backtest.incidents import KnownIncident
from streams.backtest.scoring import IncidentResult, Score, score

Change = Literal["caught", "lost", "earlier", "later", "same", "missed"]
# The order a review reads them in: what the change breaks first.
ORDER: tuple[Change, ...] = ("lost", "caught", "later", "earlier", "same", "missed")


@dataclass(frozen=True)
class IncidentChange:
    incident: KnownIncident
    before: IncidentResult
    after: IncidentResult

    @property
    def change(self) -> Change:
        was, now = self.before.delay_s, self.after.delay_s
        if was is None:
            return "missed" if now is None else "caught"
        if now is None:
            return "lost"
        return "earlier" if now < was else "later" if now > was else "same"

    @property
    def moved(self) -> bool:
        return self.change not in ("same", "missed")


@dataclass(frozen=True)
class IncidentsDiff:
    source: str
    before: Score
    after: Score
    rows: list[IncidentChange]

    def of(self, change: Change) -> list[IncidentChange]:
        return [r for r in self.rows if r.change == change]

    def counts(self) -> dict[Change, int]:
        return {c: len(self.of(c)) for c in ORDER}


def compare_incidents(source: str, incidents: Sequence[KnownIncident],
                      before: tuple[Sequence[Episode], tuple[dt.datetime, dt.datetime]],
                      after: tuple[Sequence[Episode], tuple[dt.datetime, dt.datetime]],
                      ) -> IncidentsDiff:
    """Score (episodes, span) of each config against ``incidents`` and pair the results."""
    old, new = score(before[0], incidents, before[1]), score(after[0], incidents, after[1])
    rows = [IncidentChange(b.incident, b, a) for b, a in zip(old.per_incident,
                                                              new.per_incident, strict=True)]
    rank = {c: n for n, c in enumerate(ORDER)}
    rows.sort(key=lambda r: (rank[r.change], r.incident.start, r.incident.policy_area))
    return IncidentsDiff(source, old, new, rows)


def result_json(r: IncidentResult, digest: str) -> dict[str, Any]:
    e = r.episode
    return {"detected": e is not None, "delay_s": r.delay_s,
            "severity": None if e is None else e.severity,
            "signal": None if e is None else e.signal,
            "market": None if e is None else e.market,
            "started_at": None if e is None else e.started_at,
            "config_digest": digest}
