"""Scoring alert episodes against known incidents: one fixed matching rule.

The rule is fixed, not a setting, so that numbers compare across configs and tools:

- an incident is *detected* by the earliest alert episode (either severity) of the same
  policy area — and the same signal, when the incident names one — that starts between
  ``EARLY_S`` (2 minutes) before the incident's start and ``LATE_S`` (20 minutes) after its
  end, both ends included;
- its *delay* is that episode's start minus the incident's start (negative when the alert
  came early);
- an episode that fits no incident's window that way is *false*; one episode may detect
  several incidents;
- *pages* are critical episodes; pages per day divide by the event time covered.

Episodes of a market (``market`` set) belong to their policy area like the area's own: a
market alert pages too. A pure function over (episodes, incidents, time span).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from signals.records import Episode
from streams.backtest.incidents import KnownIncident

EARLY_S = 120
LATE_S = 1200
DAY_S = 86400.0


def matches(episode: Episode, incident: KnownIncident) -> bool:
    if episode.policy_area != incident.policy_area:
        return False
    if incident.signal is not None and episode.signal != incident.signal:
        return False
    start = episode.started_at
    return (incident.start - dt.timedelta(seconds=EARLY_S) <= start
            <= incident.end + dt.timedelta(seconds=LATE_S))


@dataclass(frozen=True)
class IncidentResult:
    incident: KnownIncident
    episode: Episode | None

    @property
    def delay_s(self) -> float | None:
        if self.episode is None:
            return None
        return (self.episode.started_at - self.incident.start).total_seconds()


@dataclass(frozen=True)
class RuleScore:
    policy_area: str
    signal: str
    episodes: int = 0
    pages: int = 0
    false_episodes: int = 0
    false_pages: int = 0
    incidents_detected: int = 0
    pages_per_day: float = 0.0


@dataclass(frozen=True)
class Score:
    per_incident: list[IncidentResult]
    false: list[Episode]
    span_s: float
    episodes: int
    pages: int
    false_pages: int
    per_rule: list[RuleScore] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return sum(r.episode is not None for r in self.per_incident)

    @property
    def delays(self) -> list[float]:
        return [d for r in self.per_incident if (d := r.delay_s) is not None]

    @property
    def median_delay_s(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def max_delay_s(self) -> float | None:
        return max(self.delays) if self.delays else None

    @property
    def days(self) -> float:
        return self.span_s / DAY_S

    @property
    def pages_per_day(self) -> float | None:
        return self.pages / self.days if self.span_s > 0 else None

    @property
    def false_pages_per_day(self) -> float | None:
        return self.false_pages / self.days if self.span_s > 0 else None

    def to_dict(self, config_digest: str | None = None) -> dict[str, Any]:
        """The ``--score-out`` document (keys as the issue fixes them, plus a few more); with
        ``config_digest``, the config scored names itself there and in every episode."""
        head = {} if config_digest is None else {"config_digest": config_digest}
        return head | {
            "incidents": len(self.per_incident),
            "detected": self.detected,
            "missed": [r.incident.to_dict() for r in self.per_incident if r.episode is None],
            "false_episodes": len(self.false),
            "median_delay_s": self.median_delay_s,
            "max_delay_s": self.max_delay_s,
            "pages_per_day": self.pages_per_day,
            "false_pages_per_day": self.false_pages_per_day,
            "episodes": self.episodes,
            "pages": self.pages,
            "span_s": self.span_s,
            "per_incident": [_incident_dict(r, config_digest) for r in self.per_incident],
            "per_rule": [vars(r).copy() for r in self.per_rule],
            "matching": {"early_s": EARLY_S, "late_after_end_s": LATE_S},
        }


def _incident_dict(r: IncidentResult, config_digest: str | None) -> dict[str, Any]:
    out = r.incident.to_dict() | {"detected": r.episode is not None, "delay_s": r.delay_s}
    e = r.episode
    episode: dict[str, Any] | None = None if e is None else {
        "signal": e.signal, "severity": e.severity, "market": e.market,
        "started_at": e.started_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")}
    if episode is not None and config_digest is not None:
        episode["config_digest"] = config_digest
    out["episode"] = episode
    return out


def score(episodes: Sequence[Episode], incidents: Sequence[KnownIncident],
          span: tuple[dt.datetime, dt.datetime]) -> Score:
    """Score ``episodes`` against ``incidents`` over the event time ``span`` (start, end)."""
    ordered = sorted(episodes, key=lambda e: e.started_at)
    results = [IncidentResult(i, next((e for e in ordered if matches(e, i)), None))
               for i in incidents]
    false = [e for e in ordered if not any(matches(e, i) for i in incidents)]
    span_s = max((span[1] - span[0]).total_seconds(), 0.0)
    days = span_s / DAY_S
    false_ids = {id(e) for e in false}
    rules: dict[tuple[str, str], dict[str, int]] = {}

    def tally(area: str, signal: str) -> dict[str, int]:
        return rules.setdefault((area, signal), dict.fromkeys(
            ("episodes", "pages", "false_episodes", "false_pages", "incidents_detected"), 0))

    for i in incidents:
        if i.signal is not None:
            tally(i.policy_area, i.signal)
    for e in ordered:
        t = tally(e.policy_area, e.signal)
        page = e.severity == "critical"
        t["episodes"] += 1
        t["pages"] += page
        if id(e) in false_ids:
            t["false_episodes"] += 1
            t["false_pages"] += page
    for r in results:
        if r.episode is not None:
            tally(r.episode.policy_area, r.episode.signal)["incidents_detected"] += 1
    per_rule = [RuleScore(area, signal, **t,
                          pages_per_day=t["pages"] / days if days else 0.0)
                for (area, signal), t in sorted(rules.items())]
    pages = sum(e.severity == "critical" for e in ordered)
    return Score(results, false, span_s, len(ordered), pages,
                 sum(e.severity == "critical" for e in false), per_rule)
