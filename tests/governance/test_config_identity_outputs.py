"""The config's digest is in every output that carries alerts or episodes, and it is
``Config.digest`` of the config that produced them: generated rules (header and every
alert's annotations), dashboards (description and tag), /metrics, backtest jsonl and
--score-out, tune and diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import yaml
from prometheus_client import generate_latest

from alerts.dashboards import all_dashboards
from alerts.metrics import HarmwatchCollector, new_registry
from alerts.rules import render_rules
from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.paths import CONFIG_DIR
from tests.governance.test_diff_cli import LOWERED, OLD, config_dir
from tests.governance.test_diff_incidents import history as diff_history
from tests.support import REPO
from tests.unit.test_backtest_cli import backtest
from tests.unit.test_backtest_score_cli import history

SHIPPED = CONFIG_DIR / "thresholds.yaml"


def test_generated_rules_name_the_digest_in_the_header_and_every_alert() -> None:
    config = load_config(SHIPPED)
    text = render_rules(config, "http://grafana.example:3000")
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert any(f"(digest {config.digest};" in ln for ln in header)
    rules = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
    assert len(rules) > 100  # every harm alert of the shipped config and the pipeline ones
    assert {r["annotations"]["config_digest"] for r in rules} == {config.digest}


def test_a_changed_level_changes_the_annotation(tmp_path: Path) -> None:
    old = load_config(config_dir(tmp_path, "a", OLD))
    new = load_config(config_dir(tmp_path, "b", LOWERED))
    assert old.digest != new.digest
    for config in (old, new):
        rules = [r for g in yaml.safe_load(render_rules(config, "http://g"))["groups"]
                 for r in g["rules"]]
        assert {r["annotations"]["config_digest"] for r in rules} == {config.digest}


def test_every_dashboard_names_the_digest_in_its_description_and_a_tag() -> None:
    config = load_config(SHIPPED)
    boards = all_dashboards(config)
    assert len(boards) == len(config.areas) + 2  # overview, pipeline, one per area
    for name, board in boards.items():
        assert f"config digest {config.digest}" in board["description"], name
        assert f"config:{config.digest}" in board["tags"], name
        assert "harmwatch" in board["tags"]  # the link dropdown still finds them


def test_committed_artifacts_carry_the_shipped_digest() -> None:
    digest = load_config(SHIPPED).digest
    rules = (REPO / "deploy/prometheus/rules/harmwatch-alerts.yml").read_text()
    assert f"digest {digest}" in rules.splitlines()[1]
    overview = json.loads((REPO / "deploy/grafana/dashboards/harmwatch-overview.json")
                          .read_text())
    assert f"config:{digest}" in overview["tags"]


def test_metrics_expose_the_digest_of_the_config_in_force() -> None:
    config = load_config(SHIPPED)
    collector = HarmwatchCollector(config, pipelines=[Pipeline(config)])
    text = generate_latest(new_registry(collector)).decode()
    assert f'harmwatch_config_info{{digest="{config.digest}"}} 1.0' in text


def test_backtest_jsonl_and_score_out_name_the_digest(tmp_path: Path) -> None:
    incidents = tmp_path / "incidents.csv"
    incidents.write_text("policy_area,start,end,signal\n"
                         "youth_safety,2026-11-24T10:00:00Z,2026-11-24T10:04:00Z,\n")
    score = tmp_path / "score.json"
    result = backtest(tmp_path, history(), "--format", "jsonl", "--incidents", str(incidents),
                      "--score-out", str(score))
    assert result.returncode == 0, result.stderr
    digest = load_config(tmp_path / "thresholds.yaml").digest
    episodes = [orjson.loads(x) for x in result.stdout.splitlines()]
    assert len(episodes) == 2  # warn and critical at 10:05 (test_backtest_score_cli)
    assert [e["config_digest"] for e in episodes] == [digest, digest]
    doc = json.loads(score.read_text())
    assert doc["config_digest"] == digest
    assert doc["per_incident"][0]["episode"]["config_digest"] == digest


def test_tune_names_the_digest(tmp_path: Path) -> None:
    backtest(tmp_path, history())  # writes the config and events files
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "tune", "youth_safety", "minor_exposure",
         "--events", str(tmp_path / "events.jsonl"), "--config", str(tmp_path / "thresholds.yaml"),
         "--levels", "2,3", "--for", "0s", "--html", str(tmp_path / "t.html")],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    digest = load_config(tmp_path / "thresholds.yaml").digest
    assert f"config {digest}" in " ".join(result.stdout.split())
    assert f"config {digest}" in (tmp_path / "t.html").read_text()


def test_diff_episodes_name_the_digest_of_the_config_that_raised_them(tmp_path: Path) -> None:
    old_path, new_path = config_dir(tmp_path, "o", LOWERED), config_dir(tmp_path, "n", OLD)
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "diff", str(old_path), str(new_path),
         "--events", str(diff_history(tmp_path)), "--format", "jsonl"],
        capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1, result.stderr
    episodes = [r for r in map(orjson.loads, result.stdout.splitlines())
                if r["record"] == "episode"]
    assert [(e["change"], e["config_digest"]) for e in episodes] == [
        ("removed", load_config(old_path).digest)]  # the +5 min page only LOWERED raises
