"""``harmwatch audit report``: the evidence pack for a period, for people and for tools.

``index.html`` is one self-contained page (inline CSS, no script, no network) so it can be
archived with the audit file as it is; the CSV files and ``report.json`` carry the same
rows for auditors' own tools.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
from pathlib import Path
from typing import Any

import orjson

from signals.controls import RISKS
from streams.governance.audit_period import AuditPeriod, ControlView, RaisedEpisode, Version
from streams.governance.rule_diff import Scalar, show

CHANGES_SHOWN = 40  # per change on the page; the CSV has all of them
_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px 32px;color:#1d2433;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:2px solid #d8dee9;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}
th,td{border:1px solid #d8dee9;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef2f7}tr.alerted td{background:#fff7e6}
.critical{color:#b42318;font-weight:600}.warn{color:#a15c00;font-weight:600}
code{font:12px ui-monospace,monospace;background:#f3f5f8;padding:1px 4px;border-radius:3px}
.muted{color:#5b6576}.problems{background:#fdecea;padding:8px 12px;border-radius:4px}
.summary span{display:inline-block;margin-right:18px;padding:6px 10px;background:#eef2f7;
border-radius:4px}
"""


def _t(value: dt.datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace(
        "+00:00", "Z")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _minutes(e: RaisedEpisode, end: dt.datetime) -> float:
    stop = e.episode.ended_at or end
    return (stop - e.episode.started_at).total_seconds() / 60


def _change_text(c: dict[str, Any]) -> str:
    return f"{c['field']}: {show(c.get('old'))} -> {show(c.get('new'))}"


def _level(value: Scalar) -> str:
    return "—" if value is None else show(value)


def _levels(view: ControlView) -> str:
    parts = []
    for v, warn, crit in view.levels:
        parts.append(f"<code>{_e(v.digest)}</code> warn {_e(_level(warn))}, critical "
                     f"{_e(_level(crit))}")
    return "<br>".join(parts)


def render_html(p: AuditPeriod, generated: str) -> str:
    alerted = sum(1 for c in p.controls if c.episodes)
    out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
           f"<title>harmwatch control evidence {_t(p.start)} to {_t(p.end)}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Control evidence: {_t(p.start)} to {_t(p.end)} UTC</h1>",
           f"<p class='muted'>Generated {_e(generated)} by harmwatch from the audit log "
           f"<code>{_e(p.log)}</code>"
           + (f" and the history <code>{_e(p.events)}</code>" if p.events else
              " (no history given: no episodes)") + ".</p>",
           "<p class='summary'>"
           f"<span id='n-versions'>{len(p.versions)} config version(s) in force</span>"
           f"<span id='n-changes'>{len(p.changes)} accepted change(s)</span>"
           f"<span id='n-refusals'>{len(p.refusals)} refused</span>"
           f"<span id='n-episodes'>{len(p.episodes or [])} alert episode(s)</span>"
           f"<span>{alerted} of {len(p.controls)} controls alerted</span></p>"]
    if p.problems:
        out.append("<div class='problems'><b>Gaps in the evidence</b><ul>"
                   + "".join(f"<li>{_e(x)}</li>" for x in p.problems) + "</ul></div>")
    out += _versions(p.versions), _changes(p), _controls(p), _episodes(p)
    out.append("</body></html>")
    return "\n".join(out)


def _commit(record: dict[str, Any]) -> str:
    source = record.get("source") or {}
    commit = source.get("git_commit")
    if not commit:
        return "— (not in git)"
    return f"<code>{_e(commit[:12])}</code>" + (" (file edited)" if source.get("git_dirty")
                                                 else "")


def _versions(versions: list[Version]) -> str:
    rows = "".join(
        f"<tr class='version' data-digest='{_e(v.digest)}'><td><code>{_e(v.digest)}</code></td>"
        f"<td>{_t(v.since)}</td><td>{_t(v.until) or 'still in force'}</td>"
        f"<td>{_e(v.record.get('trigger'))}</td>"
        f"<td>{_e(v.record.get('source', {}).get('path'))}</td>"
        f"<td>{_commit(v.record)}</td>"
        "</tr>" for v in versions)
    return ("<h2>Config versions in force</h2><table><tr><th>digest</th><th>in force from</th>"
            "<th>until</th><th>how</th><th>source</th><th>git commit</th></tr>"
            f"{rows}</table>")


def _changes(p: AuditPeriod) -> str:
    out = ["<h2>Changes in the period</h2>"]
    if not p.changes and not p.refusals:
        out.append("<p>None.</p>")
    for r in p.changes:
        changes = r.get("changes")
        head = (f"<p class='change' data-digest='{_e(r['digest'])}'><b>{_e(r['time'])}</b> "
                f"{_e(r.get('trigger'))}: <code>{_e(r.get('previous_digest') or 'none')}"
                f"</code> → <code>{_e(r['digest'])}</code>")
        if changes is None:
            out.append(head + " — fields unknown (no earlier snapshot)</p>")
            continue
        items = "".join(f"<li><code>{_e(_change_text(c))}</code></li>"
                        for c in changes[:CHANGES_SHOWN])
        more = len(changes) - CHANGES_SHOWN
        if more > 0:
            items += f"<li class='muted'>… {more} more in changes.csv</li>"
        out.append(head + f" — {len(changes)} field(s)</p><ul>{items}</ul>")
    if p.refusals:
        rows = "".join(f"<tr class='refusal'><td>{_e(r['time'])}</td><td><code>"
                       f"{_e(r.get('in_force'))}</code></td><td>{_e(r.get('reason'))}</td></tr>"
                       for r in p.refusals)
        out.append("<h3>Refused reloads (the config in force stayed)</h3><table><tr>"
                   "<th>time</th><th>kept</th><th>reason</th></tr>" + rows + "</table>")
    return "".join(out)


def _controls(p: AuditPeriod) -> str:
    rows = []
    for c in p.controls:
        minutes = sum(_minutes(e, p.end) for e in c.episodes)
        pages = sum(1 for e in c.episodes if e.episode.severity == "critical")
        risk = RISKS.get(c.risk or "", c.risk or "—")
        rows.append(
            f"<tr class='control{' alerted' if c.episodes else ''}' data-area='{_e(c.area)}' "
            f"data-signal='{_e(c.signal)}' data-episodes='{len(c.episodes)}'>"
            f"<td>{_e(c.area)}</td><td>{_e(c.signal)}</td><td>{_e(risk)}</td>"
            f"<td>{_e(c.owner) or '<b>none</b>'}</td><td>{_e(c.reference or '—')}</td>"
            f"<td>{_levels(c)}</td><td>{len(c.episodes)} ({pages} paged)</td>"
            f"<td>{minutes:.0f} min</td></tr>")
    return ("<h2>Controls</h2><p class='muted'>Each alert rule, the systemic risk it controls "
            "(DSA Art. 34), its owner, the levels of each version in force, and the episodes "
            "it raised in the period.</p><table><tr><th>area</th><th>signal</th><th>risk</th>"
            "<th>owner</th><th>reference</th><th>levels by version</th><th>episodes</th>"
            "<th>time in alert</th></tr>" + "".join(rows) + "</table>")


def _episodes(p: AuditPeriod) -> str:
    if p.episodes is None:
        return "<h2>Alert episodes</h2><p>No history given (--events).</p>"
    rows = "".join(
        f"<tr class='episode' data-area='{_e(r.episode.policy_area)}' "
        f"data-signal='{_e(r.episode.signal)}'><td>{_t(r.episode.started_at)}</td>"
        f"<td>{_t(r.episode.ended_at) or 'still firing'}</td><td>{_minutes(r, p.end):.0f} min</td>"
        f"<td class='{_e(r.episode.severity)}'>{_e(r.episode.severity)}</td>"
        f"<td>{_e(r.episode.policy_area)}</td><td>{_e(r.episode.signal)}</td>"
        f"<td>{r.episode.peak_value:.4g}</td><td>{r.episode.threshold:g}</td>"
        f"<td><code>{_e(r.digest)}</code></td></tr>" for r in p.episodes)
    return ("<h2>Alert episodes</h2><table><tr><th>started</th><th>ended</th><th>lasted</th>"
            "<th>severity</th><th>area</th><th>signal</th><th>peak</th><th>threshold</th>"
            "<th>config</th></tr>" + rows + "</table>")


def _csv(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def write_pack(p: AuditPeriod, out: Path, generated: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(render_html(p, generated), encoding="utf-8")
    _csv(out / "versions.csv", ("digest", "in_force_from", "until", "trigger", "source",
                                "git_commit"),
         [(v.digest, _iso(v.since), _iso(v.until), v.record.get("trigger"),
           v.record.get("source", {}).get("path"), v.record.get("source", {}).get("git_commit"))
          for v in p.versions])
    _csv(out / "changes.csv", ("time", "previous_digest", "digest", "field", "old", "new"),
         [(r["time"], r.get("previous_digest"), r["digest"], c["field"], c.get("old"),
           c.get("new")) for r in p.changes for c in (r.get("changes") or [])])
    _csv(out / "refusals.csv", ("time", "in_force", "reason"),
         [(r["time"], r.get("in_force"), r.get("reason")) for r in p.refusals])
    _csv(out / "controls.csv", ("policy_area", "signal", "risk", "owner", "reference",
                                "episodes", "paged", "minutes_in_alert"),
         [(c.area, c.signal, c.risk, c.owner, c.reference, len(c.episodes),
           sum(1 for e in c.episodes if e.episode.severity == "critical"),
           round(sum(_minutes(e, p.end) for e in c.episodes), 1)) for c in p.controls])
    _csv(out / "episodes.csv", ("started_at", "ended_at", "minutes", "severity", "policy_area",
                                "signal", "peak_value", "threshold", "config"),
         [(_iso(r.episode.started_at), _iso(r.episode.ended_at), round(_minutes(r, p.end), 1),
           r.episode.severity, r.episode.policy_area, r.episode.signal, r.episode.peak_value,
           r.episode.threshold, r.digest) for r in p.episodes or []])
    report = {
        "period": {"from": p.start, "to": p.end}, "generated": generated, "audit_log": p.log,
        "events": p.events, "problems": p.problems,
        "versions": [{"digest": v.digest, "in_force_from": v.since, "until": v.until,
                      "record": v.record} for v in p.versions],
        "changes": p.changes, "refusals": p.refusals,
        "controls": [{"policy_area": c.area, "signal": c.signal, "risk": c.risk,
                      "owner": c.owner, "reference": c.reference,
                      "levels": [{"digest": v.digest, "warn": w, "critical": k}
                                 for v, w, k in c.levels],
                      "episodes": len(c.episodes)} for c in p.controls],
        "episodes": None if p.episodes is None else [
            {"config": r.digest, "policy_area": r.episode.policy_area,
             "market": r.episode.market, "signal": r.episode.signal,
             "severity": r.episode.severity, "started_at": r.episode.started_at,
             "ended_at": r.episode.ended_at, "peak_value": r.episode.peak_value,
             "threshold": r.episode.threshold} for r in p.episodes],
    }
    (out / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return sorted(out.iterdir())
