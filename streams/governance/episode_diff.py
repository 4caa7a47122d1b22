"""What a config change would do on a history: the alert episodes it adds and removes.

Both configs replay the same file through :func:`run_backtest`; episodes are matched by
(area, market, signal, severity, start), so an episode that only ends at another time (or
peaks higher for it) is "changed", not added and removed. Pages are the critical episodes
(``severity="page"`` in Alertmanager); warn episodes become tickets.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from signals.config import Config
from signals.records import Episode
from streams.backtest.incidents import KnownIncident
from streams.backtest.replay import Coverage, run_backtest
from streams.governance.incident_diff import IncidentsDiff, compare_incidents
from streams.governance.rule_diff import FieldChange, diff_configs

EpisodeKey = tuple[str, str, str, str, dt.datetime]
PAGING_SEVERITY = "critical"


def episode_key(e: Episode) -> EpisodeKey:
    return (e.policy_area, e.market or "", e.signal, e.severity, e.started_at)


@dataclass
class HistoryRun:
    config: Config
    episodes: list[Episode]
    counted: int
    invalid: int
    span: tuple[dt.datetime, dt.datetime]


@dataclass
class ConfigDiff:
    old: HistoryRun
    new: HistoryRun
    changes: list[FieldChange]
    events: str
    added: list[Episode] = field(default_factory=list)
    removed: list[Episode] = field(default_factory=list)
    changed: list[tuple[Episode, Episode]] = field(default_factory=list)  # (old, new)
    # owner -> controls ("area.signal") the change touches; "" collects the unowned
    owners: dict[str, list[str]] = field(default_factory=dict)
    incidents: IncidentsDiff | None = None  # with ``--incidents``

    def touched(self) -> set[tuple[str, str]]:
        """The controls (area, signal) whose settings or episodes the change moves."""
        keys = {(e.policy_area, e.signal) for e in (*self.added, *self.removed)}
        keys |= {(e.policy_area, e.signal) for _, e in self.changed}
        for c in self.changes:
            parts = c.field.split(".")
            if parts[0] == "areas" and len(parts) >= 3:
                keys.add((parts[1], parts[2]))
        return keys

    @property
    def same_config(self) -> bool:
        return self.old.config.digest == self.new.config.digest

    @property
    def pages_change(self) -> bool:
        return any(e.severity == PAGING_SEVERITY for e in (*self.added, *self.removed))

    def pages_per_day(self) -> list[tuple[dt.date, int, int]]:
        """(UTC day, pages before, pages after) for every day either config pages on."""
        before = _pages_by_day(self.old.episodes)
        after = _pages_by_day(self.new.episodes)
        return [(day, before[day], after[day]) for day in sorted(before.keys() | after.keys())]


def _pages_by_day(episodes: list[Episode]) -> Counter[dt.date]:
    return Counter(e.started_at.astimezone(dt.UTC).date() for e in episodes
                   if e.severity == PAGING_SEVERITY)


def replay(config: Config, events: Path) -> HistoryRun:
    coverage = Coverage(config.pane_s)
    pipeline = run_backtest(config, events, coverage=coverage)
    return HistoryRun(config, list(pipeline.engine.evaluator.episodes),
                      pipeline.engine.ingest.counted, pipeline.invalid_total, coverage.span)


def compare(old: Config, new: Config, events: Path,
            incidents: tuple[str, list[KnownIncident]] | None = None) -> ConfigDiff:
    """Replay ``events`` under both configs (raises OSError when it cannot be read); with
    ``incidents`` (source, rows), score both against them."""
    before = replay(old, events)
    after = before if new.digest == old.digest else replay(new, events)
    result = ConfigDiff(before, after, diff_configs(old, new), str(events))
    if incidents is not None:
        result.incidents = compare_incidents(incidents[0], incidents[1],
                                             (before.episodes, before.span),
                                             (after.episodes, after.span))
    old_by_key = {episode_key(e): e for e in before.episodes}
    new_by_key = {episode_key(e): e for e in after.episodes}
    result.added = [e for k, e in new_by_key.items() if k not in old_by_key]
    result.removed = [e for k, e in old_by_key.items() if k not in new_by_key]
    # The threshold differs by construction; an episode changed when it lasts differently.
    result.changed = [(old_by_key[k], e) for k, e in new_by_key.items()
                      if k in old_by_key and (old_by_key[k].ended_at, old_by_key[k].peak_value)
                      != (e.ended_at, e.peak_value)]
    for group in (result.added, result.removed):
        group.sort(key=episode_key)
    result.changed.sort(key=lambda pair: episode_key(pair[1]))
    return result
