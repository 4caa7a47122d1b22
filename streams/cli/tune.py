"""``harmwatch tune AREA SIGNAL``: sweep one rule's level and ``for`` over a history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signals.durations import format_duration
from streams.cli.args import Subparsers, add_config_arg, duration_arg, load_or_exit


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write levels as numbers, like "
                                         "5,10,20") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one level")
    return values


def _budget(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more (false alerts per day)")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _durations(text: str) -> list[int]:
    return [duration_arg(v.strip()) for v in text.split(",") if v.strip()]


def _cmd_tune(args: argparse.Namespace) -> int:
    from rich.console import Console

    from streams.backtest.tune import auto_levels, collect_series, recommend, sweep
    from streams.backtest.tune_report import print_sweep, render_sweep
    from streams.cli.backtest import load_incidents_or_exit

    config = load_or_exit(args.config)
    if args.area not in config.areas:
        print(f"harmwatch: {args.area!r} is not a policy area of the config; known: "
              f"{', '.join(config.areas)}", file=sys.stderr)
        return 2
    rule = config.rule(args.area, args.signal)
    if rule is None:
        print(f"harmwatch: {args.area} has no rule for {args.signal!r}; rules: "
              f"{', '.join(config.signals)}", file=sys.stderr)
        return 2
    incidents = load_incidents_or_exit(args.incidents, config) if args.incidents else []
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # piped: one candidate per line, no cut columns
    try:
        series = collect_series(config, args.events, args.area, args.signal)
    except OSError as exc:
        print(f"harmwatch: cannot read: {exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    severity = args.severity
    levels = args.levels or auto_levels(series, rule, severity, args.count)
    if not levels:
        print(f"harmwatch: {args.area} {args.signal} has no value in any window of "
              f"{args.events}; nothing to sweep", file=sys.stderr)
        return 1
    fors = args.for_ or sorted({0, rule.for_s, 300})
    candidates = sweep(series, rule, severity, levels, fors, incidents)
    best = recommend(candidates, args.pages_per_day, rule.direction)
    unit = "pages" if severity == "critical" else "warnings"
    hours = (series.span[1] - series.span[0]).total_seconds() / 3600
    mine = len(candidates[0].score.per_incident) if candidates else 0
    summary = (f"{args.area} {args.signal} ({severity}, direction {rule.direction}, window "
               f"{format_duration(rule.window_s)}, step {format_duration(rule.step)}): "
               f"{len(series.windows):,} windows over {hours:.1f} h of {args.events.name}; "
               f"{mine} incident(s) of this area; budget {args.pages_per_day:g} false "
               f"{unit}/day; config {config.digest} (the other settings of the rule)")
    console.print(summary)
    print_sweep(candidates, best, (rule.level(severity) or float("nan"), rule.for_s), unit,
                console)
    if best is None:
        console.print(f"no setting stays within {args.pages_per_day:g} false {unit} per day; "
                      "widen --levels or raise --pages-per-day")
    else:
        console.print(f"recommended: {severity}: {best.level:g}, for: "
                      f"{format_duration(best.for_s)} — the most sensitive setting within "
                      f"{args.pages_per_day:g} false {unit}/day ({best.false_per_day:.2f}), "
                      f"catching {best.score.detected} of {mine} incident(s)")
    if args.html:
        args.html.write_text(render_sweep(f"harmwatch tune {args.area} {args.signal}",
                                          candidates, best, args.pages_per_day, unit, summary),
                             encoding="utf-8")
        print(f"report: {args.html}", file=sys.stderr)
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "tune", help="sweep one rule's level and `for`: pages per day against incidents caught",
        description="Replay a history once, keep one rule's windows, and replay only what "
                    "depends on the levels for every candidate level and `for`: its alert "
                    "machine, and for a rule relative to the area's baseline also that "
                    "baseline and its scores (levels are then scores, e.g. surprise 5); a "
                    "sweep costs about one backtest. Shows false alerts per day, incidents "
                    "caught and delays, and recommends the most sensitive setting within a "
                    "false-page budget: the "
                    "most incidents caught, then the most sensitive level, then the shortest "
                    "`for`. Exit 0 on a sweep, 1 when the signal never had a value, 2 on "
                    "bad input.")
    p.add_argument("area", metavar="AREA", help="policy area id, e.g. youth_safety")
    p.add_argument("signal", metavar="SIGNAL", help="signal name, e.g. minor_exposure")
    p.add_argument("--events", type=Path, required=True, metavar="FILE.jsonl",
                   help="history to replay")
    p.add_argument("--incidents", type=Path, metavar="FILE",
                   help="known incidents (as for `backtest --incidents`); without them every "
                        "alert counts as false")
    add_config_arg(p)
    p.add_argument("--severity", choices=("critical", "warn"), default="critical",
                   help="which level to sweep (default critical: the one that pages)")
    p.add_argument("--levels", type=_floats, metavar="A,B,...",
                   help="levels to try (default: --count levels from the signal's median to "
                        "just past its extreme in this history, plus the current one)")
    p.add_argument("--count", type=_count, default=10, metavar="N",
                   help="how many levels to try when --levels is not given (default 10)")
    p.add_argument("--for", dest="for_", type=_durations, metavar="D,D,...",
                   help="`for` values to try (default: 0s, the current one and 5m)")
    p.add_argument("--pages-per-day", type=_budget, default=1.0, metavar="N",
                   help="false-alert budget for the recommendation (default 1 per day)")
    p.add_argument("--html", type=Path, metavar="FILE.html",
                   help="also write the trade-off as a chart and table")
    p.set_defaults(func=_cmd_tune)
