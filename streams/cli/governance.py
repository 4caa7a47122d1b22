"""``harmwatch diff``, ``controls`` and ``audit report``: change control and audit evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signals.config import Config, ConfigError
from streams.cli.args import Subparsers, add_config_arg, load_or_exit
from streams.governance.audit_log import DEFAULT_AUDIT_LOG

EXIT_NO_PAGE_CHANGE, EXIT_PAGES_CHANGE, EXIT_ERROR = 0, 1, 2


def _load(path: Path) -> Config | None:
    from streams.config_files import load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"harmwatch: invalid config:\n{exc}", file=sys.stderr)
        return None


def _cmd_diff(args: argparse.Namespace) -> int:
    from streams.governance import diff_report
    from streams.governance.controls import load_register, owners_of
    from streams.governance.episode_diff import compare

    old, new = _load(args.old), _load(args.new)
    if old is None or new is None:
        return EXIT_ERROR
    incidents = None
    if args.incidents is not None:
        from signals.definitions import SIGNALS
        from streams.backtest.incidents import IncidentsError, load_incidents

        try:  # an area either config knows can be caught by one of them
            rows = load_incidents(args.incidents, dict.fromkeys((*old.areas, *new.areas)),
                                  SIGNALS)
        except IncidentsError as exc:
            print(f"harmwatch: invalid incidents file:\n{exc}", file=sys.stderr)
            return EXIT_ERROR
        incidents = (str(args.incidents), rows)
    try:
        result = compare(old, new, args.events, incidents)
    except OSError as exc:
        print(f"harmwatch: cannot read {exc.filename or args.events}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_ERROR
    try:
        register = load_register(new)
    except ConfigError as exc:
        print(f"harmwatch: invalid register of controls:\n{exc}", file=sys.stderr)
        return EXIT_ERROR
    if not result.same_config:
        result.owners = owners_of(register, result.touched())
    if args.format == "jsonl":
        sys.stdout.buffer.write(diff_report.jsonl(result))
        sys.stdout.flush()
    else:
        render = diff_report.markdown if args.format == "markdown" else diff_report.text
        sys.stdout.write(render(result))
    return EXIT_PAGES_CHANGE if result.pages_change else EXIT_NO_PAGE_CHANGE


def _cmd_controls(args: argparse.Namespace) -> int:
    from streams.governance import controls

    config = load_or_exit(args.config)
    try:
        register = controls.load_register(config)
    except ConfigError as exc:
        print(f"harmwatch: invalid register of controls:\n{exc}", file=sys.stderr)
        return EXIT_ERROR
    items = controls.rows(config, register)
    if args.format == "csv":
        sys.stdout.write(controls.to_csv(items))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # piped: one rule per line
    table = Table(title=f"{len(items)} alert rules, config {config.digest} "
                        f"(register {register.source})", title_justify="left")
    for col in ("area", "signal", "pages", "warn", "critical", "risk (DSA Art. 34)", "owner",
                "reference"):
        table.add_column(col, no_wrap=col not in ("reference",))
    for r in items:
        table.add_row(r.policy_area, r.signal, "yes" if r.pages else "no", _level(r.warn),
                      _level(r.critical), r.risk or "—",
                      r.owner or ("[red]none[/]" if r.pages else "—"), r.reference or "—")
    console.print(table)
    return 0


def _cmd_audit_report(args: argparse.Namespace) -> int:
    from streams.governance import audit_log
    from streams.governance.audit_period import gather, parse_time
    from streams.governance.audit_report import write_pack
    from streams.governance.controls import load_register

    try:
        start, end = parse_time(args.start), parse_time(args.end)
    except ValueError as exc:
        print(f"harmwatch: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if end <= start:
        print("harmwatch: --to must be after --from", file=sys.stderr)
        return EXIT_ERROR
    if not args.audit_log.is_file():
        print(f"harmwatch: no audit log at {args.audit_log}; give --audit-log FILE (what "
              "`harmwatch run --audit-log` wrote)", file=sys.stderr)
        return EXIT_ERROR
    config = load_or_exit(args.config)
    try:
        register = load_register(config)
        period = gather(args.audit_log, start, end, register, args.events, fallback=config)
        files = write_pack(period, args.out, audit_log.utc_now())
    except ConfigError as exc:
        print(f"harmwatch: invalid register of controls:\n{exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"harmwatch: cannot read or write {exc.filename or ''}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_ERROR
    for problem in period.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(f"{len(period.versions)} version(s), {len(period.changes)} change(s), "
          f"{len(period.refusals)} refused, {len(period.episodes or [])} episode(s): "
          + ", ".join(str(f) for f in files), file=sys.stderr)
    return 0


def _level(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "diff", help="what a thresholds change would page: settings and episodes, old vs new",
        description="Compare two thresholds files (each with the taxonomy next to it): the "
                    "settings that changed, field by field, and the alert episodes the change "
                    "adds and removes when the same history is replayed under both, with "
                    "pages per day before and after; with --incidents, the incidents newly "
                    "caught or lost and their delays. Exit 0 when no page would change, 1 "
                    "when pages would change, 2 on an error.")
    p.add_argument("old", type=Path, metavar="OLD.yaml", help="the thresholds in force")
    p.add_argument("new", type=Path, metavar="NEW.yaml", help="the proposed thresholds")
    p.add_argument("--events", type=Path, required=True, metavar="FILE.jsonl",
                   help="history to replay under both (e.g. from harmwatch simulate or "
                        "import-dsa)")
    p.add_argument("--incidents", type=Path, metavar="FILE",
                   help="known incidents (CSV or YAML, as for `backtest --incidents`, e.g. "
                        "from `simulate --incidents-out`): which the change newly catches or "
                        "loses, and how each one's delay moves")
    p.add_argument("--format", choices=("text", "markdown", "jsonl"), default="text",
                   help="text for a terminal (default), markdown to paste into a review, "
                        "jsonl for tools (one record per line, episodes with their config "
                        "digest)")
    p.set_defaults(func=_cmd_diff)

    c = sub.add_parser(
        "controls", help="the register of controls: each alert rule's risk, owner, reference",
        description="List every alert rule (policy area × signal) with its levels and what "
                    "config/controls.yaml says about it: the DSA Art. 34 systemic risk it "
                    "controls, its owner and a reference to the risk assessment.")
    c.add_argument("--format", choices=("table", "csv"), default="table",
                   help="table for people (default) or CSV for spreadsheets and auditors")
    add_config_arg(c)
    c.set_defaults(func=_cmd_controls)

    audit = sub.add_parser("audit", help="audit evidence for a period",
                           description="Evidence that the stated controls operated.")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    rep = audit_sub.add_parser(
        "report", help="the evidence pack for a period: HTML page, CSV and JSON",
        description="Write DIR/index.html (one self-contained page) plus CSV files and "
                    "report.json: per control, the config versions in force and when (from "
                    "the audit log), the levels each held, each change with its field diff "
                    "and digest, refused reloads, and — with --events — the alert episodes "
                    "raised and how long they lasted, replayed under the version in force.")
    rep.add_argument("--from", dest="start", required=True, metavar="TIME",
                     help="start of the period (RFC 3339 with offset, or a date = 00:00 UTC)")
    rep.add_argument("--to", dest="end", required=True, metavar="TIME",
                     help="end of the period (exclusive)")
    rep.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="directory for index.html, *.csv and report.json")
    rep.add_argument("--events", type=Path, metavar="FILE.jsonl",
                     help="history covering the period, replayed for the episodes")
    rep.add_argument("--audit-log", type=Path, default=DEFAULT_AUDIT_LOG, metavar="FILE",
                     help=f"the audit log `harmwatch run` appends to (default "
                          f"{DEFAULT_AUDIT_LOG})")
    add_config_arg(rep)
    rep.set_defaults(func=_cmd_audit_report)
