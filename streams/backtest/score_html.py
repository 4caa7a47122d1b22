"""The score of a backtest as the HTML report's first table (see ``html_report``)."""

from __future__ import annotations

import html

from streams.backtest.score_report import delay_text, summary_line
from streams.backtest.scoring import EARLY_S, LATE_S, Score


def score_section(s: Score) -> str:
    rows = "".join(
        f"<tr><td>{r.incident.start:%Y-%m-%d %H:%M}</td><td>{r.incident.end:%H:%M}</td>"
        f"<td>{html.escape(r.incident.policy_area)}</td>"
        f"<td>{html.escape(r.incident.signal or '(any)')}</td>"
        f"<td>{html.escape(r.incident.label or '')}</td>"
        + (f'<td class="caught">caught</td><td>{html.escape(r.episode.signal)} '
           f"{r.episode.severity}</td>" if r.episode else
           '<td class="missed">missed</td><td></td>')
        + f"<td>{delay_text(r.delay_s)}</td></tr>" for r in s.per_incident)
    rules = "".join(
        f"<tr><td>{html.escape(r.policy_area)}</td><td>{html.escape(r.signal)}</td>"
        f"<td>{r.episodes}</td><td>{r.pages}</td><td>{r.false_episodes}</td>"
        f"<td>{r.false_pages}</td><td>{r.incidents_detected}</td>"
        f"<td>{r.pages_per_day:.2f}</td></tr>" for r in s.per_rule)
    incidents = (f"<table><tr><th>incident start (UTC)</th><th>end</th><th>policy area</th>"
                 f"<th>signal</th><th>label</th><th>result</th><th>by</th><th>delay</th></tr>"
                 f"{rows}</table>") if s.per_incident else ""
    per_rule = (f"<table><tr><th>policy area</th><th>signal</th><th>episodes</th><th>pages</th>"
                f"<th>false</th><th>false pages</th><th>caught</th><th>pages/day</th></tr>"
                f"{rules}</table>") if s.per_rule else ""
    return (f'<section class="score"><h2>score</h2><p><b>{html.escape(summary_line(s))}</b>'
            f"<br><small>An incident is caught by the first alert of its area (and signal, "
            f"when named) starting {EARLY_S // 60} min before to {LATE_S // 60} min after "
            f"it.</small></p>{incidents}<h3>per rule</h3>{per_rule}</section>"
            "<h2>alert episodes</h2>")
