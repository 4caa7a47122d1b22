"""``harmwatch calibrate``: fit a complete thresholds file to a platform's own history."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from streams.cli.args import Subparsers, add_config_arg, load_or_exit


def _budget(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 (false pages per day)")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from signals.config import ConfigError
    from streams.backtest.calibrate import (
        file_digest,
        fit_rules,
        fitted_count,
        replay,
        tighten,
    )
    from streams.backtest.calibrate_yaml import render
    from streams.config_files import default_config_path, load_config

    base_path = args.config or default_config_path()
    config = load_or_exit(base_path)
    unknown = sorted(set(args.fit_unlevelled) - set(config.signals))
    if unknown:
        print(f"harmwatch: --fit-unlevelled: no signal {', '.join(unknown)} in {base_path} "
              f"(its signals: {', '.join(config.signals)})", file=sys.stderr)
        return 2

    def say(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr)

    try:
        say(f"calibrate: replaying {args.events} with {base_path} ...")
        history = replay(config, args.events)
        if history.days <= 0:
            print(f"harmwatch: {args.events} holds no closed window; nothing to calibrate "
                  "from", file=sys.stderr)
            return 1
        digest = file_digest(args.events)
    except OSError as exc:
        print(f"harmwatch: cannot read: {exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    say(f"calibrate: {history.events:,} events, {history.days * 24:.1f} h, "
        f"{len(history.series)} area-level rules judged")
    fits = fit_rules(config, history, args.pages_per_day, args.trim,
                     frozenset(args.fit_unlevelled))
    now = dt.datetime.now(dt.UTC)
    rounds = 0
    for rounds in range(1, args.rounds + 1):
        text = render(base_path, config, fits, args.out, events=args.events, digest=digest,
                      span=history.span or (now, now), pages_per_day=args.pages_per_day,
                      trim=args.trim, rounds=rounds, now=now)
        args.out.write_text(text, encoding="utf-8")
        try:
            fitted = load_config(args.out)
        except ConfigError as exc:
            print(f"harmwatch: the calibrated file does not load (a bug):\n{exc}",
                  file=sys.stderr)
            return 1
        say(f"calibrate: verification replay {rounds} of at most {args.rounds} ...")
        check = replay(fitted, args.events)
        pages = sum(v for (_, _, s), v in check.episodes.items() if s == "critical")
        warns = sum(v for (_, _, s), v in check.episodes.items() if s == "warn")
        say(f"calibrate: {pages} page(s), {warns} warning(s) in the history with the "
            "fitted levels")
        raised = tighten(fits, check, args.pages_per_day)
        if not raised:
            break
        say(f"calibrate: raising {len(raised)} rule(s) over their share: "
            + ", ".join(f"{a}/{s}" for a, s in raised[:8]) + (" ..." if len(raised) > 8 else ""))
    else:
        text = render(base_path, config, fits, args.out, events=args.events, digest=digest,
                      span=history.span or (now, now), pages_per_day=args.pages_per_day,
                      trim=args.trim, rounds=rounds, now=now)
        args.out.write_text(text, encoding="utf-8")
        say("calibrate: stopped after the last round; the file holds the raised levels, "
            "not verified again")
    print(f"wrote {args.out}: {fitted_count(fits)} rules fitted to {history.days * 24:.1f} h of "
          f"{args.events.name}; check it with `harmwatch config check {args.out}`")
    return 0


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "calibrate", help="fit a complete thresholds file to a platform's own history",
        description="Replay a history (mostly normal traffic; a few incidents in it are "
                    "tolerated) with the base config and fit every area's and signal's warn "
                    "and critical levels to what it observed, within a false-page budget: "
                    "each rule may have its share of the budget of excursions above "
                    "critical, four times that above warn, after its --trim highest are set "
                    "aside as presumed incidents. Modes, windows, `for`, baselines and floors "
                    "stay those of the base config, and a rule the base leaves without levels "
                    "(report_volume) stays so unless --fit-unlevelled names it. The fitted "
                    "file is replayed to verify, and a rule still over its share is raised a "
                    "step. Each fitted value's "
                    "`why:` names the history (span, sha256), the statistic and the date. "
                    "Exit 0 on success, 1 when the history holds nothing, 2 on bad input.")
    p.add_argument("--events", type=Path, required=True, metavar="HISTORY.jsonl",
                   help="the platform's own history (JSON Lines, as for backtest)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.yaml",
                   help="the thresholds file to write (it names the base's taxonomy by a "
                        "path relative to itself)")
    add_config_arg(p)
    p.add_argument("--pages-per-day", type=_budget, default=1.0, metavar="N",
                   help="false pages per day allowed over all rules together (default 1)")
    p.add_argument("--trim", type=_count, default=1, metavar="N",
                   help="highest excursions of each rule set aside as presumed incidents "
                        "(default 1)")
    p.add_argument("--rounds", type=_count, default=3, metavar="N",
                   help="verification replays at most (default 3)")
    p.add_argument("--fit-unlevelled", action="append", default=[], metavar="SIGNAL",
                   help="also fit levels for SIGNAL where the base config gives it none "
                        "(repeatable). By default such a rule stays without levels: "
                        "report_volume is a capacity signal, and levels fitted from observed "
                        "volume are guesses that page with every report surge; set its "
                        "levels from your review capacity instead")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_calibrate)
