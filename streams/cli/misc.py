"""``harmwatch config check``, ``schema``, ``simulate`` and ``import-dsa``."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from signals.config import Config, ConfigError
from streams.cli.args import Subparsers, duration_arg, positive

if TYPE_CHECKING:
    from streams.sources.profiles import Profile


def _cmd_config_check(args: argparse.Namespace) -> int:
    from streams.config_files import check_file, default_config_path

    path = args.file or default_config_path()
    try:
        config = check_file(path)
    except ConfigError as exc:
        print(f"{path}: invalid\n{exc}", file=sys.stderr)
        return 1
    if config is None:
        print(f"{path}: ok (taxonomy)")
    else:
        per_signal = Counter(sig for (_, sig) in config.rules)
        print(f"{path}: ok — {len(config.areas)} policy areas, {len(per_signal)} signals, "
              f"{len(config.rules)} area rules, pane {config.pane_s}s, digest {config.digest}")
        return _check_controls(config)
    return 0


def _check_controls(config: Config) -> int:
    from streams.governance.controls import load_register, unowned_warnings

    try:
        register = load_register(config)
    except ConfigError as exc:
        print(f"invalid register of controls\n{exc}", file=sys.stderr)
        return 1
    for warning in unowned_warnings(config, register):
        print(warning, file=sys.stderr)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    from signals.events import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import datetime as dt

    from streams.sources.simulator import Simulator, schedule

    start = dt.datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        print("harmwatch: --start needs a UTC offset, e.g. 2026-11-24T00:00:00Z", file=sys.stderr)
        return 2
    incidents = schedule(start + dt.timedelta(seconds=args.incidents_after), args.incidents)
    areas = None
    if args.profile_seed is not None:
        areas = _drawn_profile(args.profile_seed, args.profile_out)
    traffic = None
    known = [i.known() for i in incidents]
    if args.threats:
        from streams.sources.threat_traffic import ThreatTraffic, threat_schedule

        planted = threat_schedule(start + dt.timedelta(seconds=args.incidents_after))
        traffic = ThreatTraffic(seed=args.seed, incidents=planted)
        known += [i.known() for i in planted]
        for t in planted:
            print(f"threat incident {t.kind}: {t.area} {t.signal} from "
                  f"{t.start.isoformat()} for {t.duration_s}s", file=sys.stderr)
    sim = Simulator(start=start, seed=args.seed, incidents=incidents,
                    invalid_rate=args.invalid_rate, duplicate_rate=args.duplicate_rate,
                    scale=args.scale, areas=areas, threats=traffic)
    out = sys.stdout.buffer if str(args.out) == "-" else args.out.open("wb")
    lines = 0
    try:
        buf: list[bytes] = []
        for _, line in sim.lines(args.duration):
            buf.append(line)
            if len(buf) >= 10000:
                out.write(b"\n".join(buf) + b"\n")
                lines += len(buf)
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
            lines += len(buf)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    for incident in incidents:
        print(f"incident {incident.kind}: {incident.area} {incident.signal} from "
              f"{incident.start.isoformat()} for {incident.duration_s}s", file=sys.stderr)
    if args.incidents_out is not None:
        from streams.backtest.incidents import dump_incidents

        dump_incidents(known, args.incidents_out)
        print(f"incidents: {args.incidents_out}", file=sys.stderr)
    print(f"wrote {lines:,} lines", file=sys.stderr)
    return 0


def _drawn_profile(seed: int, out: Path | None) -> dict[str, Profile]:
    from streams.sources.profiles import describe, draw_profiles, summary_lines
    from streams.sources.simulator import PROFILES, UNLISTED

    areas = draw_profiles(seed, [*PROFILES, *UNLISTED])
    for text in summary_lines(areas):
        print(text, file=sys.stderr)
    if out is not None:
        import yaml

        doc = {"profile_seed": seed, "areas": describe(areas)}
        out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        print(f"profile: {out}", file=sys.stderr)
    return areas


def _cmd_import_dsa(args: argparse.Namespace) -> int:
    import orjson

    from streams.sources.dsa_import import convert

    written, skipped = 0, Counter[str]()
    try:
        with args.out.open("wb") as out:
            for event, problem in convert(args.files):
                if event is None:
                    skipped[problem or "?"] += 1
                    continue
                out.write(orjson.dumps(event) + b"\n")
                written += 1
    except OSError as exc:
        print(f"harmwatch: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    detail = ", ".join(f"{n} without a usable {col}" for col, n in skipped.items())
    print(f"wrote {written:,} decision events to {args.out}"
          + (f"; skipped {detail}" if detail else ""), file=sys.stderr)
    return 0


def register(sub: Subparsers) -> None:
    cfg = sub.add_parser("config", help="check config files",
                         description="Validate config files before they ship.")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    check = cfg_sub.add_parser(
        "check", help="validate a thresholds or taxonomy file (exit 1 when invalid)",
        description="Validate a thresholds file (and the taxonomy it names) or a taxonomy file;"
                    " each problem names the file, the field and the fix.")
    check.add_argument("file", nargs="?", type=Path, metavar="FILE",
                       help="default: $HARMWATCH_CONFIG or config/thresholds.yaml")
    check.set_defaults(func=_cmd_config_check)

    schema = sub.add_parser("schema", help="print the event contract as JSON Schema")
    schema.set_defaults(func=_cmd_schema)

    sim = sub.add_parser(
        "simulate", help="write simulated events (with incidents) to a JSON Lines file",
        description="Generate the simulator's traffic into a file, for backtests, "
                    "benchmarks and `harmwatch produce`.")
    sim.add_argument("--out", type=Path, required=True, metavar="FILE",
                     help="output file, or - for standard output")
    sim.add_argument("--duration", type=duration_arg, default=7200, metavar="D",
                     help="event time to cover (default 2h)")
    sim.add_argument("--start", default="2026-11-24T08:00:00+00:00", metavar="TIME",
                     help="event time of the first second (RFC 3339 with offset)")
    sim.add_argument("--incidents", type=int, default=8, metavar="N",
                     help="how many incidents to inject (default 8; 0 for none)")
    sim.add_argument("--incidents-after", type=duration_arg, default=3600, metavar="D",
                     help="first incident after this much event time (default 1h, so "
                          "baselines are warm)")
    sim.add_argument("--incidents-out", type=Path, metavar="FILE",
                     help="write the injected incidents (CSV for .csv, else YAML) for "
                          "`backtest --incidents`")
    sim.add_argument("--profile-seed", type=int, metavar="N",
                     help="draw every area's base rates at random from seed N — volumes over "
                          "three orders of magnitude, review latency from minutes to hours, "
                          "its own violation, appeal and overturn rates and daily swing: a "
                          "platform nobody tuned for; incidents then scale with each area's "
                          "own rates (default: the built-in rates)")
    sim.add_argument("--profile-out", type=Path, metavar="FILE.yaml",
                     help="with --profile-seed: also write the drawn rates here (they are "
                          "always printed on stderr)")
    sim.add_argument("--scale", type=positive, default=1.0,
                     help="multiply every rate (default 1.0, about 1,200 events per minute)")
    sim.add_argument("--invalid-rate", type=float, default=0.0, metavar="P",
                     help="share of extra invalid lines (default 0)")
    sim.add_argument("--duplicate-rate", type=float, default=0.001, metavar="P",
                     help="share of events delivered twice (default 0.001)")
    sim.add_argument("--threats", action="store_true",
                     help="also send tags and advertisers and plant one emerging tag, "
                          "advertiser concentration and classifier drop, 15 minutes apart "
                          "from --incidents-after (docs/threats.md)")
    sim.add_argument("--seed", type=int, default=7)
    sim.set_defaults(func=_cmd_simulate)

    dsa = sub.add_parser(
        "import-dsa", help="turn EU DSA Transparency Database CSV dumps into decision events",
        description="Convert statements of reasons (the database's daily-dump CSV) into "
                    "harmwatch decision events for backtests on real moderation data. "
                    "Categories map to policy areas; no content or user ids are copied.")
    dsa.add_argument("files", nargs="+", type=Path, metavar="CSV")
    dsa.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl")
    dsa.set_defaults(func=_cmd_import_dsa)

