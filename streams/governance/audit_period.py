"""The evidence for one period, gathered from the audit log, its snapshots and a history.

Per control (area × signal): the config versions in force and when, the levels each held,
and the alert episodes raised. A version is in force from the moment the log recorded it
until the next accepted one. Episodes come from replaying the history under each version
for the span it was in force, rebuilt from the YAML files the snapshot kept (and checked
against the digest); a version without usable files is replayed with ``fallback``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from signals.config import Config, ConfigError, parse_taxonomy, parse_thresholds
from signals.controls import Register
from signals.records import Episode
from streams.governance.audit_log import load_snapshot, read_log
from streams.governance.episode_diff import replay
from streams.governance.rule_diff import Scalar


def parse_time(text: str) -> dt.datetime:
    """RFC 3339 with an offset (``Z`` allowed), or a bare date meaning 00:00 UTC."""
    try:
        if len(text) == 10:
            return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write it like 2026-11-24T10:00:00Z or "
                         "2026-11-24") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; add Z or +01:00")
    return value.astimezone(dt.UTC)


@dataclass
class Version:
    digest: str
    since: dt.datetime
    until: dt.datetime | None  # None: still in force
    record: dict[str, Any]
    settings: dict[str, Scalar] | None
    config: Config | None

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.since < end and (self.until is None or self.until > start)


@dataclass(frozen=True)
class RaisedEpisode:
    episode: Episode
    digest: str  # the version in force when it started


@dataclass
class ControlView:
    area: str
    signal: str
    risk: str | None
    owner: str | None
    reference: str | None
    levels: list[tuple[Version, Scalar, Scalar]]  # (version, warn, critical) while in force
    episodes: list[RaisedEpisode] = field(default_factory=list)


@dataclass
class AuditPeriod:
    start: dt.datetime
    end: dt.datetime
    log: str
    versions: list[Version]
    changes: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    controls: list[ControlView]
    episodes: list[RaisedEpisode] | None  # None: no history given
    events: str | None
    problems: list[str]


def _rebuild(digest: str, files: object) -> Config | None:
    if not isinstance(files, dict):
        return None
    try:
        taxonomy = parse_taxonomy(yaml.safe_load(files.get("taxonomy") or ""))
        config = parse_thresholds(yaml.safe_load(files.get("thresholds") or ""), taxonomy,
                                  f"snapshot {digest}")
    except (ConfigError, yaml.YAMLError):
        return None
    return config if config.digest == digest else None


def _well_formed(records: list[dict[str, Any]], source: str,
                 problems: list[str]) -> list[dict[str, Any]]:
    """The records with a readable time (and a digest, when accepted); a hand-edited or
    foreign line is reported, not trusted."""
    out = []
    for i, r in enumerate(records, 1):
        try:
            parse_time(str(r.get("time")))
        except ValueError:
            problems.append(f"{source}: record {i}: no readable time; skipped")
            continue
        if r.get("event") == "accepted" and not isinstance(r.get("digest"), str):
            problems.append(f"{source}: record {i}: accepted without a digest; skipped")
            continue
        out.append(r)
    return out


def versions_from(records: list[dict[str, Any]], log: Path) -> list[Version]:
    accepted = [r for r in records if r.get("event") == "accepted"]
    out: list[Version] = []
    for i, r in enumerate(accepted):
        since = parse_time(r["time"])
        until = parse_time(accepted[i + 1]["time"]) if i + 1 < len(accepted) else None
        snapshot = load_snapshot(log, r["digest"])
        out.append(Version(r["digest"], since, until, r,
                           snapshot["settings"] if snapshot else None,
                           _rebuild(r["digest"], snapshot.get("files")) if snapshot else None))
    return out


def gather(log: Path, start: dt.datetime, end: dt.datetime, register: Register,
           events: Path | None = None, fallback: Config | None = None) -> AuditPeriod:
    """Raises OSError when the history cannot be read."""
    records, problems = read_log(log)
    records = _well_formed(records, str(log), problems)
    every = versions_from(records, log)
    versions = [v for v in every if v.overlaps(start, end)]
    in_period = [r for r in records if start <= parse_time(r["time"]) < end]
    changes = [r for r in in_period if r.get("event") == "accepted"]
    refusals = [r for r in in_period if r.get("event") == "refused"]
    for v in versions:
        if v.settings is None:
            problems.append(f"version {v.digest}: no snapshot beside the log; its levels "
                            "are unknown")
    episodes = None if events is None else _episodes(versions, start, end, events, fallback,
                                                     problems)
    controls = _controls(versions, register, episodes or [])
    return AuditPeriod(start, end, str(log), versions, changes, refusals, controls, episodes,
                       None if events is None else str(events), problems)


def _episodes(versions: list[Version], start: dt.datetime, end: dt.datetime, events: Path,
              fallback: Config | None, problems: list[str]) -> list[RaisedEpisode]:
    out: list[RaisedEpisode] = []
    for v in versions:
        config = v.config
        if config is None:
            if fallback is None:
                problems.append(f"version {v.digest}: its files were not kept; no episodes")
                continue
            problems.append(f"version {v.digest}: its files were not kept; episodes replayed "
                            f"with {fallback.source} ({fallback.digest}) instead")
            config = fallback
        lo, hi = max(v.since, start), min(v.until or end, end)
        out += [RaisedEpisode(e, v.digest) for e in replay(config, events).episodes
                if lo <= e.started_at < hi]
    out.sort(key=lambda r: (r.episode.started_at, r.episode.policy_area, r.episode.signal))
    return out


def _controls(versions: list[Version], register: Register,
              episodes: list[RaisedEpisode]) -> list[ControlView]:
    keys: set[tuple[str, str]] = set(register.controls)
    for v in versions:
        for name in v.settings or {}:
            parts = name.split(".")
            if parts[0] == "areas" and len(parts) == 4:
                keys.add((parts[1], parts[2]))
    views: dict[tuple[str, str], ControlView] = {}
    for area, signal in sorted(keys):
        control = register.control(area, signal)
        prefix = f"areas.{area}.{signal}."
        levels = [(v, (v.settings or {}).get(prefix + "warn"),
                   (v.settings or {}).get(prefix + "critical")) for v in versions]
        views[(area, signal)] = ControlView(
            area, signal, control.risk if control else None,
            control.owner if control else None, control.reference if control else None,
            levels)
    for raised in episodes:
        view = views.get((raised.episode.policy_area, raised.episode.signal))
        if view is not None:
            view.episodes.append(raised)
    return list(views.values())
