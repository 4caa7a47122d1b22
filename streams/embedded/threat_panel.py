"""The emergent-threat detectors in ``harmwatch run``: a panel of open threat episodes for
the live view, and one line per episode opened or closed without it.

Apart from :mod:`streams.embedded.live` (its own concern, the thresholds table) so the
detectors' output can change without touching it. The detail names a tag or a hashed
advertiser, never a user: it is shown to the operator, not exported as a metric.
"""

from __future__ import annotations

from typing import IO

from rich.panel import Panel
from rich.table import Table

from signals.engine import Engine
from signals.records import Episode
from signals.threats import ROUTES, ThreatDetector

MAX_ROWS = 8  # the live view is one screen: the newest open episodes


def threat_panel(engine: Engine) -> Panel | None:
    """Open threat episodes, newest first; None when the detectors are off."""
    detector = engine.threats
    if detector is None:
        return None
    opened = [e for e in detector.episodes if e.ended_at is None]
    if not opened:
        return Panel("no emergent threat open", title="emergent threats", style="dim")
    table = Table(expand=True, pad_edge=False, box=None)
    for col in ("since", "policy area", "kind", "route", "what was found"):
        table.add_column(col, no_wrap=col != "what was found")
    for e in sorted(opened, key=lambda e: e.started_at, reverse=True)[:MAX_ROWS]:
        table.add_row(e.started_at.strftime("%H:%M"), e.policy_area, e.signal,
                      ROUTES.get(e.signal, ""), e.detail or "")
    more = len(opened) - MAX_ROWS
    title = f"emergent threats: {len(opened)} open" + (f" ({more} not shown)" if more > 0
                                                       else "")
    return Panel(table, title=title, border_style="red")


class ThreatLog:
    """Without the live view: one line when a threat episode opens and when it closes."""

    def __init__(self) -> None:
        self._open: dict[int, Episode] = {}
        self._known = 0

    def write(self, detector: ThreatDetector | None, out: IO[str]) -> None:
        if detector is None:
            return
        lines = []
        for e in detector.episodes[self._known:]:
            lines.append(f"threat firing: {e.policy_area} {e.signal} at "
                         f"{e.started_at.isoformat()}: {e.detail}")
            self._open[id(e)] = e
        self._known = len(detector.episodes)
        for key, e in list(self._open.items()):
            if e.ended_at is not None:
                lines.append(f"threat resolved: {e.policy_area} {e.signal} at "
                             f"{e.ended_at.isoformat()}")
                del self._open[key]
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
