"""CLI commands of the alerting side: rules, dashboards and a notification sink.

Thin: parse flags, call the pure generators in ``alerts.rules`` and ``alerts.dashboards``,
write files. Everything worth testing lives in those modules.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from alerts.conventions import ALERT_STATE
from alerts.naming import DASHBOARDS_DIR, DATASOURCE_UID, FOLDER_UID, GRAFANA_URL_ENV
from streams.cli.args import Subparsers


def _config_arg(p: argparse.ArgumentParser) -> None:
    from streams.cli.args import add_config_arg

    add_config_arg(p)


def _threats_arg(p: argparse.ArgumentParser) -> None:
    from streams.cli.args import add_threats_args

    add_threats_args(p)  # the threat detectors' panels, from threats.yaml like the engine


def _grafana_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grafana-url", metavar="URL",
                   help=f"Grafana base URL for dashboard links in alerts (default: "
                        f"${GRAFANA_URL_ENV} or http://localhost:3000)")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so Prometheus never reloads a half-written rules file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --- rules ----------------------------------------------------------------------------


def _cmd_rules_generate(args: argparse.Namespace) -> int:
    from alerts.naming import grafana_url
    from alerts.rules import render_rules
    from streams.cli.args import load_or_exit

    text = render_rules(load_or_exit(args.config), grafana_url(args.grafana_url))
    if args.output is None or str(args.output) == "-":
        sys.stdout.write(text)
    else:
        _write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _cmd_rules_test(args: argparse.Namespace) -> int:
    """Run ``promtool check rules`` and ``promtool test rules`` with the generated cases."""
    import yaml

    from alerts.naming import grafana_url
    from alerts.rule_tests import rule_tests
    from alerts.rules import dump_yaml, pipeline_only
    from streams.cli.args import load_or_exit

    config = load_or_exit(args.config)
    rules_path = args.rules.resolve()
    try:
        rules = yaml.safe_load(rules_path.read_text(encoding="utf-8"))
    except OSError as exc:
        print(f"harmwatch: cannot read {rules_path}: {exc.strerror}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="harmwatch-rules-") as tmp:
        pipeline_file = Path(tmp) / "pipeline-rules.yml"
        pipeline_file.write_text(dump_yaml(pipeline_only(rules)), encoding="utf-8")
        files = []
        for name, doc in rule_tests(config, grafana_url(args.grafana_url), str(rules_path),
                                    str(pipeline_file)).items():
            (Path(tmp) / name).write_text(dump_yaml(doc), encoding="utf-8")
            files.append(str(Path(tmp) / name))
        try:
            for cmd in (["promtool", "check", "rules", str(rules_path)],
                        ["promtool", "test", "rules", *files]):
                if subprocess.run(cmd, check=False).returncode != 0:
                    return 1
        except FileNotFoundError:
            print("harmwatch: promtool not found; install Prometheus "
                  "(scripts/install-system-deps.sh)", file=sys.stderr)
            return 2
    return 0


# --- dashboards -----------------------------------------------------------------------


def _cmd_dashboards_generate(args: argparse.Namespace) -> int:
    from alerts.dashboards import all_dashboards, render_dashboard
    from streams.cli.args import load_or_exit, threats_or_exit

    config = load_or_exit(args.config)
    boards = all_dashboards(config, threats_or_exit(args, config))
    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    # A removed policy area must not leave its old dashboard behind to be provisioned.
    for stale in out.glob("harmwatch-*.json"):
        if stale.name not in boards:
            stale.unlink()
    for name, board in boards.items():
        _write_text(out / name, render_dashboard(board))
    print(f"wrote {len(boards)} dashboards to {out}", file=sys.stderr)
    return 0


def _cmd_dashboards_push(args: argparse.Namespace) -> int:
    from alerts.dashboards import all_dashboards
    from alerts.grafana import PushError, push, read_token, with_datasource
    from streams.cli.args import load_or_exit, threats_or_exit

    config = load_or_exit(args.config)
    boards = [with_datasource(b, args.datasource_uid)
              for b in all_dashboards(config, threats_or_exit(args, config)).values()]
    try:
        token = read_token(args.token_file)
        pushed = push(args.url, token, boards, folder_uid=args.folder_uid,
                      message=f"harmwatch dashboards push (config digest {config.digest})")
    except PushError as exc:
        print(f"harmwatch: {exc}", file=sys.stderr)
        return 1
    for item in pushed:
        print(f"{item.uid}: version {item.version} {args.url.rstrip('/')}{item.url}")
    return 0


# --- sink -----------------------------------------------------------------------------


def _cmd_sink(args: argparse.Namespace) -> int:
    from alerts.sink import serve

    try:
        serve(args.host, args.port)
    except KeyboardInterrupt:
        pass
    return 0


def register(sub: Subparsers) -> None:
    """Add the alerting commands to the ``harmwatch`` parser."""
    rules = sub.add_parser("rules", help="Prometheus alerting rules generated from the config",
                           description="Generate and test the Prometheus alerting rules.")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    gen = rules_sub.add_parser(
        "generate", help="write the alerting rules (stdout by default)",
        description="One alert per policy area, signal and set level (warn -> ticket, "
                    f"critical -> page), paging off the engine's {ALERT_STATE}, plus "
                    "the pipeline-health alerts routed to engineering.")
    _config_arg(gen)
    gen.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    _grafana_arg(gen)
    gen.set_defaults(func=_cmd_rules_generate)
    test = rules_sub.add_parser(
        "test", help="promtool check and unit-test a rules file against generated cases",
        description="Each alert must be silent just before its `for:` and firing with exact "
                    "labels and annotations just after; exit 1 on any failure.")
    _config_arg(test)
    test.add_argument("--rules", type=Path, metavar="FILE",
                      default=Path("deploy/prometheus/rules/harmwatch-alerts.yml"),
                      help="rules file (default deploy/prometheus/rules/harmwatch-alerts.yml)")
    _grafana_arg(test)
    test.set_defaults(func=_cmd_rules_test)

    dash = sub.add_parser("dashboards", help="Grafana dashboards generated from the config",
                          description="Generate the dashboards as JSON or push them to Grafana.")
    dash_sub = dash.add_subparsers(dest="dashboards_command", required=True, metavar="COMMAND")
    dgen = dash_sub.add_parser("generate", help="write the dashboard JSON files")
    _config_arg(dgen)
    _threats_arg(dgen)
    dgen.add_argument("--output-dir", type=Path, default=Path(DASHBOARDS_DIR), metavar="DIR",
                      help=f"default {DASHBOARDS_DIR}")
    dgen.set_defaults(func=_cmd_dashboards_generate)
    dpush = dash_sub.add_parser(
        "push", help="create or update the dashboards in Grafana (idempotent)",
        description="Save every dashboard under its fixed uid with overwrite, in the "
                    "harmwatch folder (created when missing). The API token comes from "
                    "--token-file or $GRAFANA_TOKEN.")
    dpush.add_argument("--url", required=True, metavar="URL",
                       help="Grafana base URL, e.g. http://localhost:3000")
    dpush.add_argument("--token-file", type=Path, metavar="FILE",
                       help="file holding a service-account token (default: $GRAFANA_TOKEN)")
    dpush.add_argument("--folder-uid", default=FOLDER_UID, metavar="UID",
                       help=f"folder to save into (default {FOLDER_UID})")
    dpush.add_argument("--datasource-uid", default=DATASOURCE_UID, metavar="UID",
                       help=f"uid of the Prometheus datasource in that Grafana (default "
                            f"{DATASOURCE_UID}, the one deploy/grafana provisions)")
    _config_arg(dpush)
    _threats_arg(dpush)
    dpush.set_defaults(func=_cmd_dashboards_push)

    sink = sub.add_parser(
        "notify-sink", help="print Alertmanager notifications received over HTTP",
        description="A stand-in pager/work queue for local stacks: accepts Alertmanager "
                    "webhook and PagerDuty payloads on any path, prints one line each.")
    sink.add_argument("--host", default="127.0.0.1", metavar="ADDR")
    sink.add_argument("--port", type=int, default=5001)
    sink.set_defaults(func=_cmd_sink)
