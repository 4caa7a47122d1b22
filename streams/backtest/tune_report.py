"""How a tune sweep is shown: a rich table for the terminal, a chart and table for ``--html``."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from signals.durations import format_duration
from streams.backtest.score_report import delay_text
from streams.backtest.tune import Candidate

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 260, 56, 110, 14, 34
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _caught(c: Candidate) -> str:
    return f"{c.score.detected}/{len(c.score.per_incident)}" if c.score.per_incident else "—"


def print_sweep(candidates: Sequence[Candidate], best: Candidate | None,
                current: tuple[float | None, int], unit: str, console: Console) -> None:
    table = Table(title_justify="left", title=f"sweep: {unit} per day against incidents caught")
    for col in ("level", "for", f"{unit}/day", f"false {unit}/day", "caught", "median delay",
                "worst delay", ""):
        table.add_column(col, no_wrap=True, justify="left" if col == "" else "right")
    for c in candidates:
        note = []
        if c is best:
            note.append("[bold green]◀ recommended[/]")
        if (c.level, c.for_s) == current:
            note.append("(current)")
        table.add_row(_fmt(c.level), format_duration(c.for_s), f"{c.per_day:.2f}",
                      f"{c.false_per_day:.2f}", _caught(c), delay_text(c.score.median_delay_s),
                      delay_text(c.score.max_delay_s), " ".join(note),
                      style="bold" if c is best else None)
    console.print(table)


def _line_chart(candidates: Sequence[Candidate], best: Candidate | None,
                metric: Callable[[Candidate], float], axis: str,
                budget: float | None = None) -> str:
    """``metric`` against the level, one line per ``for``; the budget dashed, if given."""
    levels = [c.level for c in candidates]
    lo, hi = min(levels), max(levels)
    top = max([metric(c) for c in candidates] + [budget or 0.0, 1e-9]) * 1.1
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return PAD_L + (v - lo) / span * (W - PAD_L - PAD_R)

    def y(v: float) -> float:
        return PAD_T + (1 - v / top) * (H - PAD_T - PAD_B)

    parts = [f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">',
             f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
             f'height="{H - PAD_T - PAD_B}" fill="#fafafa" stroke="#ddd"/>']
    if budget is not None:
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y(budget):.1f}" '
                     f'y2="{y(budget):.1f}" stroke="#d62728" stroke-dasharray="5 4"/>'
                     f'<text x="{W - PAD_R + 4}" y="{y(budget) + 4:.1f}" font-size="10" '
                     f'fill="#d62728">budget {budget:g}/day</text>')
    fors = sorted({c.for_s for c in candidates})
    for i, for_s in enumerate(fors):
        colour = _COLOURS[i % len(_COLOURS)]
        line = sorted((c for c in candidates if c.for_s == for_s), key=lambda c: c.level)
        points = " ".join(f"{x(c.level):.1f},{y(metric(c)):.1f}" for c in line)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                     'stroke-width="1.5"/>')
        for c in line:
            parts.append(f'<circle cx="{x(c.level):.1f}" cy="{y(metric(c)):.1f}" r="2.5" '
                         f'fill="{colour}"><title>level {_fmt(c.level)}, for '
                         f'{format_duration(c.for_s)}: {c.false_per_day:.2f} false/day, caught '
                         f'{_caught(c)}, median delay {delay_text(c.score.median_delay_s)}'
                         '</title></circle>')
        parts.append(f'<text x="{W - PAD_R + 4}" y="{PAD_T + 14 * (i + 2)}" font-size="11" '
                     f'fill="{colour}">for {format_duration(for_s)}</text>')
    if best is not None:
        parts.append(f'<circle cx="{x(best.level):.1f}" cy="{y(metric(best)):.1f}" r="7" '
                     'fill="none" stroke="#2ca02c" stroke-width="2"/>')
    for v in (0.0, top / 1.1):
        parts.append(f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                     f'font-size="10" fill="#555">{v:.2g}</text>')
    for v, anchor in ((lo, "start"), ((lo + hi) / 2, "middle"), (hi, "end")):
        parts.append(f'<text x="{x(v):.1f}" y="{H - 18}" text-anchor="{anchor}" font-size="10" '
                     f'fill="#555">{_fmt(v)}</text>')
    parts.append(f'<text x="{(PAD_L + W - PAD_R) / 2:.0f}" y="{H - 4}" text-anchor="middle" '
                 f'font-size="11" fill="#333">level → ({html.escape(axis)} ↑)</text></svg>')
    return "".join(parts)


def render_sweep(title: str, candidates: Sequence[Candidate], best: Candidate | None,
                 budget: float, unit: str, summary: str) -> str:
    """A self-contained page: false alerts per day against the level, one line per ``for``,
    the budget dashed, the recommendation ringed; with incidents also incidents caught
    against the level; the same numbers as a table below."""
    charts = [f"<h2>false {unit} per day</h2>" + _line_chart(
        candidates, best, lambda c: c.false_per_day, f"false {unit} per day", budget)]
    if candidates and candidates[0].score.per_incident:
        charts.append("<h2>incidents caught</h2>" + _line_chart(
            candidates, best, lambda c: float(c.score.detected), "incidents caught"))
    rows = "".join(
        f"<tr{' class=best' if c is best else ''}><td>{_fmt(c.level)}</td>"
        f"<td>{format_duration(c.for_s)}</td><td>{c.per_day:.2f}</td>"
        f"<td>{c.false_per_day:.2f}</td><td>{_caught(c)}</td>"
        f"<td>{delay_text(c.score.median_delay_s)}</td></tr>" for c in candidates)
    pick = ("no candidate fits the budget" if best is None else
            f"recommended: level {_fmt(best.level)}, for {format_duration(best.for_s)}")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>harmwatch tune</title><style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:820px}}
table{{border-collapse:collapse;font-size:13px}} .best{{font-weight:bold;color:#2ca02c}}
td,th{{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}}
</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(summary)}</p>
<p><b>{html.escape(pick)}</b></p>{"".join(charts)}
<table><tr><th>level</th><th>for</th><th>{unit}/day</th><th>false {unit}/day</th>
<th>caught</th><th>median delay</th></tr>{rows}</table></body></html>
"""
