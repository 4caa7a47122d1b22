"""``harmwatch backtest --html``: one self-contained page of charts for analysts.

Each chart is one signal of one policy area over the replayed history, drawn against its
warn and critical levels, with the alert episodes shaded — what an analyst would otherwise
read off the jsonl. With known incidents (``--incidents``) each chart of their area marks
them (blue band, caught or missed) and the score table heads the page. Inline SVG, no
JavaScript and no network, so the file can be attached to a change review as it is.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from signals.config import Config
from signals.records import Episode, SignalRow
from streams.backtest.incidents import KnownIncident
from streams.backtest.score_html import score_section
from streams.backtest.score_report import delay_text
from streams.backtest.scoring import IncidentResult, Score

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 170, 56, 12, 14, 26
_SEV_COLOUR = {"warn": "#e6a700", "critical": "#d62728"}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _chart(rows: list[SignalRow], episodes: list[Episode], levels: dict[str, float],
           t0: float, t1: float, marks: Sequence[IncidentResult] = ()) -> str:
    values = [float(r.value) for r in rows if r.value is not None]
    top = max([*values, *levels.values(), 1e-9]) * 1.08
    span = max(t1 - t0, 1.0)

    def x(t: float) -> float:
        return PAD_L + (t - t0) / span * (W - PAD_L - PAD_R)

    def y(v: float) -> float:
        return PAD_T + (1 - v / top) * (H - PAD_T - PAD_B)

    parts = [f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
             f'height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ddd"/>']
    for e in episodes:
        a = x(e.started_at.timestamp())
        b = x(e.ended_at.timestamp() if e.ended_at else t1)
        parts.append(f'<rect x="{a:.1f}" y="{PAD_T}" width="{max(b - a, 1.5):.1f}" '
                     f'height="{H - PAD_T - PAD_B}" fill="{_SEV_COLOUR[e.severity]}" '
                     f'opacity="0.18"><title>{e.severity} {e.started_at:%H:%M}–'
                     f'{(e.ended_at and format(e.ended_at, "%H:%M")) or "end"}</title></rect>')
    for m in marks:
        parts.append(_incident_mark(m, x, t0, t1))
    for sev, level in levels.items():
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(level):.1f}" '
                     f'y2="{y(level):.1f}" stroke="{_SEV_COLOUR[sev]}" stroke-dasharray="5 4"/>'
                     f'<text x="{W - PAD_R - 4}" y="{y(level) - 3:.1f}" text-anchor="end" '
                     f'font-size="10" fill="{_SEV_COLOUR[sev]}">{sev} {_fmt(level)}</text>')
    points = " ".join(f"{x(r.window_end.timestamp()):.1f},{y(float(r.value)):.1f}"
                      for r in rows if r.value is not None)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" '
                 'stroke-width="1.4"/>')
    for v in (0.0, top / 1.08):
        parts.append(f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                     f'font-size="10" fill="#555">{_fmt(v)}</text>')
    for t, anchor in ((t0, "start"), ((t0 + t1) / 2, "middle"), (t1, "end")):
        label = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%m-%d %H:%M")
        parts.append(f'<text x="{x(t):.1f}" y="{H - 8}" text-anchor="{anchor}" font-size="10" '
                     f'fill="#555">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _incident_mark(m: IncidentResult, x: Callable[[float], float], t0: float,
                   t1: float) -> str:
    i = m.incident
    a = x(min(max(i.start.timestamp(), t0), t1))
    b = x(min(max(i.end.timestamp(), t0), t1))
    caught = (f"caught by {m.episode.signal} {m.episode.severity} after "
              f"{delay_text(m.delay_s)}" if m.episode else "missed")
    name = html.escape(i.label or i.signal or "incident")
    colour = "#1f77b4" if m.episode else "#7f3fbf"
    return (f'<rect x="{a:.1f}" y="{PAD_T}" width="{max(b - a, 1.5):.1f}" height="6" '
            f'fill="{colour}"><title>incident {name} {i.start:%H:%M}–{i.end:%H:%M}: '
            f'{caught}</title></rect><line x1="{a:.1f}" x2="{a:.1f}" y1="{PAD_T}" '
            f'y2="{H - PAD_B}" stroke="{colour}" stroke-dasharray="2 3"/>'
            f'<text x="{a + 3:.1f}" y="{PAD_T - 3}" font-size="10" fill="{colour}">'
            f'{name}: {"caught" if m.episode else "MISSED"}</text>')


def render(config: Config, rows: Iterable[SignalRow], episodes: list[Episode],
           summary: str, all_areas: bool = False, incidents: Sequence[KnownIncident] = (),
           score: Score | None = None) -> str:
    """The page: the score (with ``score``), then areas with episodes or incidents (every
    area with ``all_areas``); each chart marks the incidents of its area and signal."""
    series: dict[tuple[str, str], list[SignalRow]] = defaultdict(list)
    for r in rows:
        if r.market is None:
            series[(r.policy_area, r.signal)].append(r)
    top = score_section(score) if score is not None else ""
    if not series:
        body = "<p>No closed windows in this file.</p>"
        return _page(summary, top, body, episodes)
    t0 = min(s[0].window_start.timestamp() for s in series.values())
    t1 = max(s[-1].window_end.timestamp() for s in series.values())
    by_area: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        if e.market is None:
            by_area[e.policy_area].append(e)
    results = score.per_incident if score is not None else [
        IncidentResult(i, None) for i in incidents]
    marks: dict[str, list[IncidentResult]] = defaultdict(list)
    for m in results:
        marks[m.incident.policy_area].append(m)
    areas = [a for a in config.areas if all_areas or a in by_area or a in marks]
    sections = []
    for area in areas:
        info = config.taxonomy.info(area)
        charts = [_area_chart(config, area, signal, series, by_area[area], marks[area], t0, t1)
                  for signal in _signals_shown(config, area, series, by_area[area],
                                               marks[area], all_areas)]
        sections.append(f'<section><h2>{html.escape(info.name)} <small>({area}, owner '
                        f'{html.escape(info.owner)}, <a href="{html.escape(info.runbook_url)}">'
                        f"runbook</a>)</small></h2>{''.join(charts)}</section>")
    body = "".join(sections) or "<p>No alert would have fired.</p>"
    return _page(summary, top, body, episodes)


def _signals_shown(config: Config, area: str, series: dict[tuple[str, str], list[SignalRow]],
                   episodes: list[Episode], marks: list[IncidentResult],
                   all_areas: bool) -> list[str]:
    """Signals with episodes or an incident naming them; every signal of the area when an
    incident names none and nothing else would show it."""
    have = [s for s in config.signals if config.rule(area, s) is not None
            and (area, s) in series]
    if all_areas:
        return have
    named = {m.incident.signal for m in marks}
    shown = [s for s in have if s in named or any(e.signal == s for e in episodes)]
    if None in named and not shown:
        return have
    return shown


def _area_chart(config: Config, area: str, signal: str,
                series: dict[tuple[str, str], list[SignalRow]], episodes: list[Episode],
                marks: list[IncidentResult], t0: float, t1: float) -> str:
    rule = config.rule(area, signal)
    assert rule is not None
    eps = [e for e in episodes if e.signal == signal]
    mine = [m for m in marks if m.incident.signal in (None, signal)]
    levels = {s: v for s in ("warn", "critical") if (v := rule.level(s)) is not None}
    return (f"<h3>{html.escape(signal)} <small>window {rule.window_s}s, step "
            f"{rule.step}s, for {rule.for_s}s</small></h3>"
            + _chart(series[(area, signal)], eps, levels, t0, t1, mine))


def _page(summary: str, top: str, body: str, episodes: list[Episode]) -> str:
    rows = "".join(
        f"<tr><td>{e.started_at:%Y-%m-%d %H:%M}</td><td>"
        f"{(e.ended_at and format(e.ended_at, '%Y-%m-%d %H:%M')) or 'still firing'}</td>"
        f'<td class="{e.severity}">{e.severity}</td><td>{html.escape(e.policy_area)}</td>'
        f"<td>{html.escape(e.signal)}</td><td>{_fmt(float(e.peak_value))}</td>"
        f"<td>{_fmt(float(e.threshold))}</td></tr>" for e in episodes)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>harmwatch backtest</title><style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:820px}}
small{{color:#666;font-weight:normal}} table{{border-collapse:collapse;font-size:13px}}
td,th{{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}}
.critical{{color:#d62728;font-weight:bold}} .warn{{color:#b07f00}}
.missed{{color:#7f3fbf;font-weight:bold}} .caught{{color:#1f77b4}}
section{{margin-top:28px}} h3{{margin:14px 0 2px;font-size:14px}}
</style></head><body><h1>harmwatch backtest</h1><p>{html.escape(summary)}</p>
{top}
<table><tr><th>started (UTC)</th><th>ended</th><th>severity</th><th>policy area</th>
<th>signal</th><th>peak</th><th>threshold</th></tr>{rows}</table>{body}</body></html>
"""
