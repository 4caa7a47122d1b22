"""``harmwatch backtest --html``: one self-contained page of charts for analysts.

Each chart is one signal of one policy area over the replayed history, drawn against its
warn and critical levels, with the alert episodes shaded — what an analyst would otherwise
read off the jsonl. Inline SVG, no JavaScript and no network, so the file can be attached
to a change review as it is.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Iterable

from signals.config import Config
from signals.records import Episode, SignalRow

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 170, 56, 12, 14, 26
_SEV_COLOUR = {"warn": "#e6a700", "critical": "#d62728"}


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _chart(rows: list[SignalRow], episodes: list[Episode], levels: dict[str, float],
           t0: float, t1: float) -> str:
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


def render(config: Config, rows: Iterable[SignalRow], episodes: list[Episode],
           summary: str, all_areas: bool = False) -> str:
    """The page: areas with episodes first (every area with ``all_areas``)."""
    series: dict[tuple[str, str], list[SignalRow]] = defaultdict(list)
    for r in rows:
        if r.market is None:
            series[(r.policy_area, r.signal)].append(r)
    if not series:
        body = "<p>No closed windows in this file.</p>"
        return _page(summary, body, episodes)
    t0 = min(s[0].window_start.timestamp() for s in series.values())
    t1 = max(s[-1].window_end.timestamp() for s in series.values())
    by_area: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        if e.market is None:
            by_area[e.policy_area].append(e)
    areas = [a for a in config.areas if all_areas or a in by_area]
    sections = []
    for area in areas:
        info = config.taxonomy.info(area)
        charts = []
        for signal in config.signals:
            rule = config.rule(area, signal)
            if rule is None or (area, signal) not in series:
                continue
            eps = [e for e in by_area.get(area, []) if e.signal == signal]
            if not all_areas and not eps:
                continue
            levels = {s: v for s in ("warn", "critical") if (v := rule.level(s)) is not None}
            charts.append(f"<h3>{html.escape(signal)} <small>window {rule.window_s}s, step "
                          f"{rule.step}s, for {rule.for_s}s</small></h3>"
                          + _chart(series[(area, signal)], eps, levels, t0, t1))
        sections.append(f'<section><h2>{html.escape(info.name)} <small>({area}, owner '
                        f'{html.escape(info.owner)}, <a href="{html.escape(info.runbook_url)}">'
                        f"runbook</a>)</small></h2>{''.join(charts)}</section>")
    body = "".join(sections) or "<p>No alert would have fired.</p>"
    return _page(summary, body, episodes)


def _page(summary: str, body: str, episodes: list[Episode]) -> str:
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
section{{margin-top:28px}} h3{{margin:14px 0 2px;font-size:14px}}
</style></head><body><h1>harmwatch backtest</h1><p>{html.escape(summary)}</p>
<table><tr><th>started (UTC)</th><th>ended</th><th>severity</th><th>policy area</th>
<th>signal</th><th>peak</th><th>threshold</th></tr>{rows}</table>{body}</body></html>
"""
