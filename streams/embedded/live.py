"""The live terminal view of ``harmwatch run``, and its plain-log fallback off a terminal."""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import IO

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from signals.config import Config
from signals.engine import Engine
from signals.evaluator import Transition
from signals.pipeline import Pipeline
from streams.embedded.threat_panel import threat_panel

_SHORT = {
    "report_volume": "reports", "report_surge": "surge", "regulator_reports": "regulator",
    "violation_rate": "viol%", "escalation_rate": "esc%", "minor_exposure": "minors",
    "appeal_rate": "appeal%", "overturn_rate": "overturn%", "review_latency_p95": "p95 wait",
}
_STYLE = {"inactive": "green", "pending": "yellow", "firing": "bold white on red"}
_WARMING = "dim italic"  # a relative rule without enough history of its own: cannot page


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def describe(t: Transition) -> str:
    """One log line per alert change: area, signal, severity, value — never an id.

    A relative rule's level applies to a score, not to the signal: its line shows the raw
    value, the area's expected value and the score against the level
    (``value=18 expected=4.2 score=6.1≥5``) instead of a score next to "threshold".
    """
    area, market = t.key
    where = area + (f"/{market}" if market else "")
    stamp = t.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f"{stamp} {t.change.upper():9} {t.severity:8} {where} {t.signal} "
    if t.raw is None and t.expected is None:
        return head + f"value={_num(t.value)} threshold={t.threshold:g}"
    cmp = "≥" if t.value is not None and t.value >= t.threshold else "<"
    return head + (f"value={_num(t.raw)} expected={_num(t.expected)} "
                   f"score={_num(t.value)}{cmp}{t.threshold:g}")


def _fmt(signal: str, value: float | int | None) -> str:
    if value is None:
        return "·"
    if signal.endswith("_rate"):
        return f"{value:.0%}"
    if signal == "review_latency_p95":
        return f"{value / 60:.0f}m"
    if signal == "report_surge":
        return f"{value:.1f}x"
    return f"{value:g}"


class LiveView:
    def __init__(self, config: Config, pipeline: Pipeline, port: int | None) -> None:
        self.config = config
        self.pipeline = pipeline
        self.port = port
        self.recent: deque[str] = deque(maxlen=8)
        self.rate = 0.0
        self.phase = ""

    def note(self, transitions: list[Transition]) -> None:
        for t in transitions:
            if t.change in ("firing", "resolved"):
                self.recent.appendleft(describe(t))

    def render(self) -> Group:
        engine: Engine = self.pipeline.engine
        table = Table(title=None, expand=True, pad_edge=False)
        # The only column rich may narrow (the values keep their width): names are shown in
        # full where the terminal has room, shortened with "…" on one line where it has not.
        table.add_column("policy area")
        signals = self.config.signals
        for signal in signals:
            table.add_column(_SHORT.get(signal, signal), justify="right")
        warming = 0
        for area in self.config.areas:
            cells: list[Text | str] = [Text(self.config.taxonomy.info(area).name,
                                                 no_wrap=True, overflow="ellipsis")]
            for signal in signals:
                row = engine.evaluator.latest.get(((area, None), signal))
                state = "inactive"
                for severity in ("critical", "warn"):
                    s = engine.evaluator.state((area, None), signal, severity)
                    if s != "inactive":
                        state = s
                        break
                warm = engine.evaluator.warming((area, None), signal)
                warming += warm
                text = _fmt(signal, row.value if row else None) + ("~" if warm else "")
                cells.append(Text(text, style=_WARMING if warm and state == "inactive"
                                  else _STYLE[state], no_wrap=True, overflow="ellipsis"))
            table.add_row(*cells)
        wm = engine.ingest.watermark
        clock = (dt.datetime.fromtimestamp(wm + engine.ingest.lateness, dt.UTC)
                 .strftime("%Y-%m-%d %H:%M:%S UTC") if wm != float("-inf") else "—")
        firing = sum(1 for m in engine.evaluator.machines.values() if m.state == "firing")
        header = Text.assemble(
            ("event time ", "dim"), (clock, "bold"),
            ("   counted ", "dim"), f"{engine.ingest.counted:,}",
            ("  dup ", "dim"), f"{engine.ingest.duplicates:,}",
            ("  late ", "dim"), f"{engine.ingest.late:,}",
            ("  invalid ", "dim"), f"{self.pipeline.invalid_total:,}",
            ("   ", ""), (f"{self.rate:,.0f} ev/s", "cyan"),
            ("   firing ", "dim"), (str(firing), "bold red" if firing else "green"),
            ("   metrics ", "dim"),
            (f"http://127.0.0.1:{self.port}/metrics" if self.port else "off", "underline"),
        )
        log = Text("\n".join(self.recent) or "no alert has fired yet", style="dim")
        parts: list[Text | Table | Panel] = [header, table,
                                             Panel(log, title="recent alerts (Ctrl-C to stop)")]
        if warming:
            parts.insert(1, Text(f"warming up (~): {warming} area signals judged against their "
                                 "own baseline have too little history yet and cannot page",
                                 style="yellow"))
        if self.phase:
            parts.insert(1, Text(self.phase, style="yellow"))
        if (threats := threat_panel(engine)) is not None:  # streams/embedded/threat_panel.py
            parts.insert(-1, threats)
        return Group(*parts)


def log_transitions(transitions: list[Transition], out: IO[str]) -> None:
    for t in transitions:
        if t.change in ("firing", "resolved"):
            out.write(describe(t) + "\n")
    out.flush()
