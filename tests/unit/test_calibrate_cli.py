"""`harmwatch calibrate` end to end on simulated history: the file loads, stays within its
budget on its own history, and an incident in the history barely moves the fit."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from streams.cli.main import main
from streams.config_files import load_config

SIM = ["simulate", "--duration", "3h", "--scale", "0.3", "--seed", "3"]
BUDGET = 2.0  # false pages per day over all rules; 3 h of history: at most 0.25 -> none


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("calibrate")
    out = {"quiet": root / "quiet.jsonl", "incident": root / "incident.jsonl"}
    assert main([*SIM, "--incidents", "0", "--out", str(out["quiet"])]) == 0
    # One minor-exposure incident (youth_safety) 90 minutes in.
    assert main([*SIM, "--incidents", "1", "--incidents-after", "90m",
                 "--out", str(out["incident"])]) == 0
    for name in ("quiet", "incident"):
        fitted = root / f"{name}.yaml"
        assert main(["calibrate", "--events", str(out[name]), "--out", str(fitted),
                     "--pages-per-day", str(BUDGET), "--quiet"]) == 0
        out[f"{name}_yaml"] = fitted
    return out


def _levels(path: Path) -> dict[tuple[str, str, str], float]:
    config = load_config(path)
    return {(a, s, sev): lv for (a, s), r in config.rules.items()
            for sev in ("warn", "critical") if (lv := r.level(sev)) is not None}


def test_file_is_complete_loads_and_says_how_each_level_was_derived(
        histories: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = histories["quiet_yaml"]
    config = load_config(path)
    # Every area (with `other`) and signal has both levels, report_volume included (the
    # base has none for it).
    assert len(config.rules) == len(config.areas) * len(config.signals)
    assert all(r.warn is not None and r.critical is not None for r in config.rules.values())
    assert all(r.warn <= r.critical for r in config.rules.values()  # type: ignore[operator]
               if r.direction == "above")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    why = data["areas"]["youth_safety"]["minor_exposure"]["why"]
    assert "quiet.jsonl (sha256 " in why and "3.0 h" in why and "calibrated 20" in why
    assert main(["config", "check", str(path)]) == 0
    assert main(["rules", "generate", "--config", str(path), "--output",
                 str(path.with_suffix(".rules.yml"))]) == 0


def test_backtest_of_the_calibrated_file_on_its_own_history_stays_in_budget(
        histories: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["backtest", "--events", str(histories["quiet"]), "--config",
                 str(histories["quiet_yaml"]), "--format", "jsonl"]) in (0, 1)
    lines = [msgspec.json.decode(x) for x in capsys.readouterr().out.splitlines() if x]
    pages = [e for e in lines if e.get("severity") == "critical"]
    # 3 h at BUDGET per day allows 0.25 pages: none may be raised.
    assert pages == []


def test_one_incident_in_the_history_leaves_the_levels_close(
        histories: dict[str, Path]) -> None:
    quiet, noisy = _levels(histories["quiet_yaml"]), _levels(histories["incident_yaml"])
    assert quiet.keys() == noisy.keys()
    # The incident's own rule: its excursion is set aside, so the level stays a quiet one
    # (a surprise score within 1 point: ten times as rare), not the incident's peak.
    for sev in ("warn", "critical"):
        key = ("youth_safety", "minor_exposure", sev)
        assert abs(noisy[key] - quiet[key]) <= 1.0, (key, quiet[key], noisy[key])
    # The rest: the same traffic but for the incident, the same levels within 1 point or
    # 25 % (the simulator draws its noise in the same order, not identically after it).
    far = [k for k in quiet if abs(noisy[k] - quiet[k]) > max(1.0, 0.25 * quiet[k])]
    assert len(far) <= len(quiet) // 20, far


def test_missing_or_empty_history_is_refused_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    assert main(["calibrate", "--events", str(tmp_path / "nope.jsonl"), "--out", str(out),
                 "--quiet"]) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert main(["calibrate", "--events", str(empty), "--out", str(out), "--quiet"]) == 1
    assert "nothing to calibrate" in capsys.readouterr().err
    assert not out.exists()
