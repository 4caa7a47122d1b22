"""Readable backtest output for people (the default ``--format text``)."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.table import Table

from signals.config import Config
from signals.pipeline import Pipeline


def _when(t: dt.datetime | None) -> str:
    return "still firing" if t is None else t.strftime("%m-%d %H:%M:%S")


def _span(start: dt.datetime, end: dt.datetime | None) -> str:
    if end is None:
        return "—"
    minutes = (end - start).total_seconds() / 60
    return f"{minutes:.0f} min"


def print_backtest(config: Config, pipeline: Pipeline,
                   console: Console | None = None) -> Console:
    """Print the episodes and counters; returns the console for what follows."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=150)  # piped output: keep one episode per line
    engine = pipeline.engine
    episodes = engine.evaluator.episodes
    table = Table(title=f"{len(episodes)} alert episode(s) (times UTC)", title_justify="left")
    for col in ("started", "ended", "lasted", "severity", "policy area", "signal", "peak",
                "threshold"):
        table.add_column(col, no_wrap=True,
                         justify="right" if col in ("peak", "threshold", "lasted") else "left")
    for e in episodes:
        area = e.policy_area + (f"/{e.market}" if e.market else "")
        style = "red" if e.severity == "critical" else "yellow"
        table.add_row(_when(e.started_at), _when(e.ended_at), _span(e.started_at, e.ended_at),
                      f"[{style}]{e.severity}[/]", area, e.signal, f"{e.peak_value:.4g}",
                      f"{e.threshold:g}")
    if episodes:
        console.print(table)
        for e in (e for e in episodes if e.detail):  # emergent threats: what was found
            console.print(f"{_when(e.started_at)} {e.policy_area} {e.signal}: {e.detail}",
                          soft_wrap=True)
    else:
        console.print("No alert would have fired.")
    ingest = engine.ingest
    console.print(
        f"events: {ingest.counted:,} counted, {ingest.duplicates:,} duplicates, "
        f"{ingest.late:,} late, {pipeline.invalid_total:,} invalid  (config {config.digest})")
    if pipeline.invalid:
        reasons: dict[str, int] = {}
        for (_, reason), n in pipeline.invalid.items():
            reasons[reason] = reasons.get(reason, 0) + n
        top = ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items(), key=lambda x: -x[1]))
        console.print(f"invalid by reason: {top}  (--rejects-out FILE lists each line)")
    return console
