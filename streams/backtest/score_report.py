"""The score of a backtest for people: per incident, overall, per rule (rich tables)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from streams.backtest.scoring import EARLY_S, LATE_S, Score


def delay_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(int(abs(seconds)), 60)
    return f"{sign}{minutes}m{secs:02d}s"


def rate_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def summary_line(s: Score) -> str:
    return (f"caught {s.detected} of {len(s.per_incident)} incident(s); "
            f"{len(s.false)} false episode(s) ({s.false_pages} pages); median delay "
            f"{delay_text(s.median_delay_s)}, worst {delay_text(s.max_delay_s)}; "
            f"{rate_text(s.pages_per_day)} pages/day over {s.span_s / 3600:.1f} h of event time")


def print_score(s: Score, console: Console) -> None:
    if s.per_incident:
        table = Table(title="incidents (caught by the first alert of the area, and signal if "
                      f"named, starting {EARLY_S // 60} min before to {LATE_S // 60} min after)",
                      title_justify="left")
        for col in ("start", "policy area", "signal", "label", "caught", "by", "delay"):
            table.add_column(col, no_wrap=True, justify="right" if col == "delay" else "left")
        for r in s.per_incident:
            i, e = r.incident, r.episode
            table.add_row(f"{i.start:%m-%d %H:%M}", i.policy_area, i.signal or "(any)",
                          i.label or "", "[green]yes[/]" if e else "[red]missed[/]",
                          f"{e.signal} {e.severity}" if e else "", delay_text(r.delay_s))
        console.print(table)
    rules = Table(title="per rule", title_justify="left")
    for col in ("policy area", "signal", "episodes", "pages", "false", "false pages",
                "caught", "pages/day"):
        rules.add_column(col, no_wrap=True, justify="left" if col in ("policy area", "signal")
                         else "right")
    for rule in s.per_rule:
        rules.add_row(rule.policy_area, rule.signal, str(rule.episodes), str(rule.pages),
                      str(rule.false_episodes), str(rule.false_pages),
                      str(rule.incidents_detected), f"{rule.pages_per_day:.2f}")
    if s.per_rule:
        console.print(rules)
    console.print("score: " + summary_line(s))
