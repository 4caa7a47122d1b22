"""``harmwatch backtest`` and ``simulate --threats`` with the emergent-threat detectors:
on when ``threats.yaml`` sits beside the thresholds file, named by ``--threats``, off with
``--no-threats``. Expected values are the planted incident (its tag, area and start)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from streams.cli.main import main
from streams.config_files import REPO_CONFIG
from streams.sources.threat_traffic import EMERGING_TAG, ThreatIncident
from tests.threats.threat_fixture import START, threat_lines

PLANTED_AT = START + dt.timedelta(minutes=70)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("threats-cli") / "events.jsonl"
    planted = [ThreatIncident("emerging_tag", PLANTED_AT, 1200)]
    path.write_bytes(b"\n".join(threat_lines(100 * 60, planted, scale=0.5)) + b"\n")
    return path


def _jsonl(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main(["backtest", *argv, "--format", "jsonl"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _emerging(episodes: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in episodes if e["signal"] == "emerging_tag"]


def test_backtest_jsonl_names_the_planted_tag_with_the_repo_config(
        events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _emerging(_jsonl(capsys, "--events", str(events)))
    assert len(found) == 1
    episode = found[0]
    assert episode["policy_area"] == "youth_safety"
    assert EMERGING_TAG in str(episode["detail"])
    started = dt.datetime.fromisoformat(str(episode["started_at"]))
    assert PLANTED_AT < started <= PLANTED_AT + dt.timedelta(minutes=15)


def test_no_threats_turns_them_off(events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    episodes = _jsonl(capsys, "--events", str(events), "--no-threats")
    assert not [e for e in episodes if e.get("detail")]


def test_partitioned_backtest_finds_the_same_episode(
        events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    single = _jsonl(capsys, "--events", str(events))
    assert _jsonl(capsys, "--events", str(events), "--partitions", "3") == single


def test_text_output_prints_the_detail(events: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--events", str(events)]) == 0
    out = capsys.readouterr().out
    assert f"youth_safety emerging_tag: tag {EMERGING_TAG}" in out


def test_off_when_no_threats_file_beside_the_thresholds(
        events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("thresholds.yaml", "policy_areas.yaml"):
        shutil.copy(REPO_CONFIG / name, tmp_path / name)
    config = str(tmp_path / "thresholds.yaml")
    assert not _emerging(_jsonl(capsys, "--events", str(events), "--config", config))
    named = _jsonl(capsys, "--events", str(events), "--config", config,
                   "--threats", str(REPO_CONFIG / "threats.yaml"))
    assert len(_emerging(named)) == 1


def test_invalid_threats_file_is_refused_naming_it(
        events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "threats.yaml"
    bad.write_text("pane_cap: -1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--events", str(events), "--threats", str(bad)])
    assert exc.value.code == 2
    assert str(bad) in capsys.readouterr().err


def test_simulate_threats_plants_each_kind(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, known = tmp_path / "sim.jsonl", tmp_path / "incidents.csv"
    assert main(["simulate", "--out", str(out), "--duration", "10m", "--incidents", "0",
                 "--incidents-after", "5m", "--threats", "--incidents-out", str(known)]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert any(e.get("tags") for e in lines) and any(e.get("advertiser_id") for e in lines)
    assert any(EMERGING_TAG in e.get("tags", []) for e in lines)
    text = known.read_text(encoding="utf-8")
    for signal in ("emerging_tag", "advertiser_concentration", "drop_automated"):
        assert signal in text
