"""Incident files: the known incidents a backtest is scored against (CSV or YAML).

One row per incident: ``policy_area``, ``start``, ``end`` (RFC 3339 with a UTC offset),
optional ``signal`` (the incident is then caught only by that signal's alerts) and optional
``label``. ``harmwatch simulate --incidents-out`` writes the same format, so a simulated
history and its answer key travel together.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

FIELDS = ("policy_area", "start", "end", "signal", "label")
REQUIRED = ("policy_area", "start", "end")


@dataclass(frozen=True)
class KnownIncident:
    """One incident of the answer key; ``signal`` None means any signal of the area."""

    policy_area: str
    start: dt.datetime
    end: dt.datetime
    signal: str | None = None
    label: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"policy_area": self.policy_area, "signal": self.signal, "label": self.label,
                "start": _iso(self.start), "end": _iso(self.end)}


class IncidentsError(ValueError):
    """A refused incidents file; one line per problem: file, row, field, what and the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _time(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):  # YAML reads an unquoted timestamp itself
        when = value
    elif isinstance(value, str) and value.strip():
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a time; write RFC 3339 with an offset, like "
                             "2026-11-24T10:00:00Z") from None
    elif value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("is empty; write RFC 3339 with an offset, like 2026-11-24T10:00:00Z")
    else:  # a bare date or a number, as YAML reads them
        raise ValueError(f"{value!s} is not a time; write RFC 3339 with an offset, like "
                         "2026-11-24T10:00:00Z")
    if when.tzinfo is None:
        raise ValueError(f"{value!s} has no UTC offset; add one, like 2026-11-24T10:00:00Z")
    return when.astimezone(dt.UTC)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _rows(path: Path) -> list[Mapping[str, object]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IncidentsError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IncidentsError([f"{path}: cannot read: {exc}"]) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        missing = [f for f in REQUIRED if f not in (reader.fieldnames or [])]
        if missing:
            raise IncidentsError([f"{path}: header: missing column(s) {', '.join(missing)}; "
                                  f"the first line must name the columns, e.g. "
                                  f"{','.join(FIELDS)}"])
        return list(reader)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise IncidentsError([f"{path}: unknown file type {path.suffix or '(none)'}; name it "
                              ".csv or .yaml"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise IncidentsError([f"{path}{where}: not valid YAML: "
                              f"{getattr(exc, 'problem', None) or exc}"]) from None
    if isinstance(data, Mapping) and "incidents" in data:
        data = data["incidents"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise IncidentsError([f"{path}: (top level): expected a list of incidents (or a "
                              "mapping with an 'incidents' list)"])
    return data


def load_incidents(path: Path, areas: Iterable[str] | None = None,
                   signals: Iterable[str] | None = None) -> list[KnownIncident]:
    """Read and check an incidents file; raise :class:`IncidentsError` naming every problem.

    With ``areas`` / ``signals`` (the config's), unknown names are refused too: an incident
    for an area the config does not know could never be caught, and a typo would silently
    count as a miss.
    """
    known_areas = None if areas is None else tuple(areas)
    known_signals = None if signals is None else tuple(signals)
    problems: list[str] = []
    out: list[KnownIncident] = []
    # Rows are numbered as a person finds them: CSV by line (header is line 1), YAML by item.
    first = 2 if path.suffix.lower() == ".csv" else 1
    kind = "line" if path.suffix.lower() == ".csv" else "row"
    for i, row in enumerate(_rows(path), start=first):
        where = f"{path}: {kind} {i}"
        if not isinstance(row, Mapping):
            problems.append(f"{where}: expected a mapping with {', '.join(REQUIRED)}")
            continue
        unknown = [k for k in row if k not in FIELDS]
        for key in unknown:
            if key is None:  # csv.DictReader files cells past the header under None
                problems.append(f"{where}: more cells than the header has columns; remove "
                                "them or name the columns in the first line")
            else:
                problems.append(f"{where}: {key}: unknown field; known: {', '.join(FIELDS)}")
        fields = {f: _text(row.get(f)) for f in ("policy_area", "signal", "label")}
        times: dict[str, dt.datetime] = {}
        for name in ("start", "end"):
            try:
                times[name] = _time(row.get(name))
            except ValueError as exc:
                problems.append(f"{where}: {name}: {exc}")
        area, signal = fields["policy_area"], fields["signal"]
        if area is None:
            problems.append(f"{where}: policy_area: missing; add the area id, like "
                            "youth_safety")
        elif known_areas is not None and area not in known_areas:
            problems.append(f"{where}: policy_area: {area!r} is not an area of the config; "
                            f"known: {', '.join(known_areas)}")
        if signal is not None and known_signals is not None and signal not in known_signals:
            problems.append(f"{where}: signal: {signal!r} is not a signal of the config; "
                            f"known: {', '.join(known_signals)} (or leave it empty for any)")
        if len(times) == 2 and times["end"] <= times["start"]:
            problems.append(f"{where}: end: {_iso(times['end'])} is not after start "
                            f"{_iso(times['start'])}; swap them or fix the end")
        if area is not None and len(times) == 2 and not unknown:
            out.append(KnownIncident(area, times["start"], times["end"], signal,
                                     fields["label"]))
    if problems:
        raise IncidentsError(problems)
    return out


def dump_incidents(incidents: Iterable[KnownIncident], path: Path) -> None:
    """Write incidents as CSV (``.csv``) or YAML (anything else) that :func:`load_incidents`
    reads back."""
    rows = [{"policy_area": i.policy_area, "start": _iso(i.start), "end": _iso(i.end),
             "signal": i.signal or "", "label": i.label or ""} for i in incidents]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        return
    for r in rows:
        for optional in ("signal", "label"):
            if not r[optional]:
                del r[optional]
    path.write_text(yaml.safe_dump(rows, sort_keys=False), encoding="utf-8")
