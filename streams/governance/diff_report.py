"""``harmwatch diff`` output: text for a terminal, markdown for a review, JSON Lines for tools.

Every episode record names the digest of the config that produced it, so a pasted review
still says which version each alert came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson

from signals.records import Episode
from streams.backtest.score_report import delay_text
from streams.governance.episode_diff import ConfigDiff
from streams.governance.incident_diff import IncidentChange, IncidentsDiff, result_json
from streams.governance.rule_diff import show


def _when(t: dt.datetime | None) -> str:
    return "still firing" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def lasted(e: Episode) -> str:
    if e.ended_at is None:
        return "still firing"
    return f"{(e.ended_at - e.started_at).total_seconds() / 60:.0f} min"


def _where(e: Episode) -> str:
    return e.policy_area + (f"/{e.market}" if e.market else "")


def verdict(d: ConfigDiff) -> str:
    if d.same_config:
        return f"no change: both configs have digest {d.new.config.digest}"
    pages = [e for e in (*d.added, *d.removed) if e.severity == "critical"]
    if not pages:
        return "no page would change on this history"
    added = sum(1 for e in d.added if e.severity == "critical")
    return f"pages would change: {added} added, {len(pages) - added} removed"


def owners_line(d: ConfigDiff, code: str = "") -> str | None:
    if not d.owners:
        return None
    parts = [f"{code}{owner}{code} ({', '.join(keys)})" for owner, keys in d.owners.items()
             if owner]
    if "" in d.owners:
        parts.append(f"no owner: {', '.join(d.owners[''])}")
    return "owners to review: " + "; ".join(parts)


def _episode_rows(d: ConfigDiff) -> Iterator[tuple[str, Episode, str]]:
    for e in d.added:
        yield "added", e, d.new.config.digest
    for e in d.removed:
        yield "removed", e, d.old.config.digest
    for _, e in d.changed:
        yield "changed", e, d.new.config.digest


def text(d: ConfigDiff) -> str:
    out = [f"config {d.old.config.digest} -> {d.new.config.digest}"]
    if d.changes:
        out.append(f"settings changed ({len(d.changes)}):")
        out += [f"  {c.text()}" for c in d.changes]
    elif not d.same_config:
        out.append("settings changed: none that decide alerts (descriptions only)")
    out.append(f"history {d.events}: {d.old.counted:,} events counted, {d.old.invalid:,} "
               f"invalid; episodes {len(d.old.episodes)} -> {len(d.new.episodes)}")
    for change, e, digest in _episode_rows(d):
        before = next((o for o, n in d.changed if n is e), None)
        detail = (f"ends {_when(before.ended_at)} -> {_when(e.ended_at)}, peak "
                  f"{before.peak_value:.4g} -> {e.peak_value:.4g}" if before
                  else f"lasted {lasted(e)}, peak {e.peak_value:.4g}, threshold {e.threshold:g}")
        out.append(f"  {change:<8} {e.severity:<8} {_where(e)} {e.signal} from "
                   f"{_when(e.started_at)}: {detail} (config {digest})")
    for day, before_n, after_n in d.pages_per_day():
        out.append(f"pages on {day.isoformat()}: {before_n} -> {after_n}")
    if d.incidents is not None:
        out.append(incidents_line(d.incidents))
        out += [f"  {r.change:<8} {_incident(r)}: delay {delay_text(r.before.delay_s)} -> "
                f"{delay_text(r.after.delay_s)}{_by(r)}" for r in d.incidents.rows if r.moved]
    owners = owners_line(d)
    if owners:
        out.append(owners)
    out.append(verdict(d))
    return "\n".join(out) + "\n"


def markdown(d: ConfigDiff) -> str:
    out = [f"### harmwatch diff: `{d.old.config.digest}` → `{d.new.config.digest}`", "",
           f"**{verdict(d)}**", ""]
    lost = len(d.incidents.of("lost")) if d.incidents is not None else 0
    if lost:  # the exit code follows pages only; a lost incident must still stand out
        out += [f"**{lost} known incident(s) caught before would be missed**", ""]
    owners = owners_line(d, "`")
    if owners:
        out += [owners[0].upper() + owners[1:], ""]
    if d.changes:
        out += ["| setting | before | after |", "|---|---|---|"]
        out += [f"| `{c.field}` | {_cell(show(c.old))} | {_cell(show(c.new))} |"
                for c in d.changes]
        out.append("")
    out.append(f"History `{d.events}`: {d.old.counted:,} events; episodes "
               f"{len(d.old.episodes)} → {len(d.new.episodes)}.")
    rows = list(_episode_rows(d))
    if rows:
        out += ["", "| change | severity | area | signal | started (UTC) | lasted | peak | "
                "threshold | config |", "|---|---|---|---|---|---|---|---|---|"]
        before = {id(n): o for o, n in d.changed}
        out += [f"| {change} | {e.severity} | {_where(e)} | {e.signal} | {_when(e.started_at)} "
                f"| {_lasted_md(before.get(id(e)), e)} | {e.peak_value:.4g} | {e.threshold:g} "
                f"| `{digest}` |" for change, e, digest in rows]
    days = d.pages_per_day()
    if days:
        out += ["", "| day (UTC) | pages before | pages after |", "|---|---|---|"]
        out += [f"| {day.isoformat()} | {b} | {a} |" for day, b, a in days]
    if d.incidents is not None:
        out += ["", incidents_line(d.incidents, "`", "→") + "."]
        moved = [r for r in d.incidents.rows if r.moved]
        if moved:
            out += ["", "| change | area | signal | incident start (UTC) | label | delay before "
                    "| delay after | caught by (after) |", "|---|---|---|---|---|---|---|---|"]
            out += [f"| {r.change} | {r.incident.policy_area} | {r.incident.signal or '(any)'} "
                    f"| {_when(r.incident.start)} | {_cell(r.incident.label or '')} "
                    f"| {delay_text(r.before.delay_s)} | {delay_text(r.after.delay_s)} "
                    f"| {_caught_by(r)} |" for r in moved]
    return "\n".join(out) + "\n"


def incidents_line(i: IncidentsDiff, code: str = "", arrow: str = "->") -> str:
    """``incidents FILE: caught 3 -> 4 of 5 (1 newly caught, 0 lost, ...); median delay``."""
    counts = i.counts()
    parts = [f"{counts['caught']} newly caught", f"{counts['lost']} lost",
             f"{counts['earlier']} earlier", f"{counts['later']} later",
             f"{counts['same']} unchanged", f"{counts['missed']} missed by both"]
    return (f"incidents {code}{i.source}{code}: caught {i.before.detected} {arrow} "
            f"{i.after.detected} of {len(i.rows)} ({', '.join(parts)}); median delay "
            f"{delay_text(i.before.median_delay_s)} {arrow} "
            f"{delay_text(i.after.median_delay_s)}")


def _incident(r: IncidentChange) -> str:
    i = r.incident
    label = f' "{i.label}"' if i.label else ""
    return f"{i.policy_area} {i.signal or '(any signal)'} from {_when(i.start)}{label}"


def _caught_by(r: IncidentChange) -> str:
    e = r.after.episode
    return "—" if e is None else f"{e.signal} {e.severity}" + (f" {e.market}" if e.market else "")


def _by(r: IncidentChange) -> str:
    return "" if r.after.episode is None else f" (by {_caught_by(r)})"


def _lasted_md(before: Episode | None, e: Episode) -> str:
    return lasted(e) if before is None else f"{lasted(before)} → {lasted(e)}"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def jsonl(d: ConfigDiff) -> bytes:
    records: list[dict[str, Any]] = [
        {"record": "setting", **c.as_json()} for c in d.changes]
    for change, e, digest in _episode_rows(d):
        # "config" was the first name of config_digest; kept for scripts reading it.
        records.append({"record": "episode", "change": change, "config": digest,
                        "config_digest": digest,
                        "policy_area": e.policy_area, "market": e.market, "signal": e.signal,
                        "severity": e.severity, "started_at": e.started_at,
                        "ended_at": e.ended_at, "peak_value": e.peak_value,
                        "threshold": e.threshold})
    for day, before, after in d.pages_per_day():
        records.append({"record": "pages_per_day", "day": day.isoformat(), "before": before,
                        "after": after})
    for owner, keys in d.owners.items():
        records.append({"record": "owner", "owner": owner or None, "controls": keys})
    summary: dict[str, Any] = {
        "record": "summary", "old_digest": d.old.config.digest,
        "new_digest": d.new.config.digest, "same_config": d.same_config,
        "pages_change": d.pages_change, "added": len(d.added), "removed": len(d.removed),
        "changed": len(d.changed), "events_counted": d.old.counted, "verdict": verdict(d)}
    if d.incidents is not None:
        for r in d.incidents.rows:
            records.append({"record": "incident", "change": r.change, **r.incident.to_dict(),
                            "before": result_json(r.before, d.old.config.digest),
                            "after": result_json(r.after, d.new.config.digest)})
        summary["incidents"] = {"source": d.incidents.source, "total": len(d.incidents.rows),
                                "detected_before": d.incidents.before.detected,
                                "detected_after": d.incidents.after.detected,
                                "median_delay_before_s": d.incidents.before.median_delay_s,
                                "median_delay_after_s": d.incidents.after.median_delay_s,
                                **d.incidents.counts()}
    records.append(summary)
    return b"".join(orjson.dumps(r) + b"\n" for r in records)
