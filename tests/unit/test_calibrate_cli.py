"""`harmwatch calibrate` end to end on simulated history: the file loads, stays within its
budget on its own history, and an incident in the history barely moves the fit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest
import yaml

from streams.cli.main import main
from streams.config_files import default_config_path, load_config

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
    out["capacity_yaml"] = root / "capacity.yaml"
    assert main(["calibrate", "--events", str(out["quiet"]), "--out",
                 str(out["capacity_yaml"]), "--pages-per-day", str(BUDGET),
                 "--fit-unlevelled", "report_volume", "--quiet"]) == 0
    return out


def _levels(path: Path) -> dict[tuple[str, str, str], float]:
    config = load_config(path)
    return {(a, s, sev): lv for (a, s), r in config.rules.items()
            for sev in ("warn", "critical") if (lv := r.level(sev)) is not None}


def test_file_is_complete_loads_and_says_how_each_level_was_derived(
        histories: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = histories["quiet_yaml"]
    config = load_config(path)
    # Every area (with `other`) and signal has both levels, but report_volume, which the
    # base leaves without levels (a capacity signal): it stays so.
    assert len(config.rules) == len(config.areas) * len(config.signals)
    assert load_config(default_config_path()).rule("hate_speech", "report_volume") is not None
    for (area, signal), r in config.rules.items():
        if signal == "report_volume":
            assert (r.warn, r.critical) == (None, None), area
        else:
            assert r.warn is not None and r.critical is not None, (area, signal)
    assert all(r.warn <= r.critical for r in config.rules.values()  # type: ignore[operator]
               if r.direction == "above" and r.warn is not None)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    why = data["areas"]["youth_safety"]["minor_exposure"]["why"]
    assert "quiet.jsonl (sha256 " in why and "3.0 h" in why and "calibrated 20" in why
    for area in config.areas:
        kept = data["areas"][area]["report_volume"]["why"]
        assert kept.startswith("Not calibrated") and "--fit-unlevelled report_volume" in kept
    assert main(["config", "check", str(path)]) == 0
    assert main(["rules", "generate", "--config", str(path), "--output",
                 str(path.with_suffix(".rules.yml"))]) == 0


def test_fit_unlevelled_fits_report_volume_from_observed_volume(
        histories: dict[str, Path]) -> None:
    config = load_config(histories["capacity_yaml"])
    assert all(r.warn is not None and r.critical is not None for r in config.rules.values())
    data = yaml.safe_load(histories["capacity_yaml"].read_text(encoding="utf-8"))
    youth = data["areas"]["youth_safety"]["report_volume"]
    assert "--fit-unlevelled report_volume" in youth["why"] and "capacity" in youth["why"]
    # Levels of observed volume: youth_safety's reports per 5-minute window (windows end on
    # the minute), counted here from the events, duplicates once. The budget allows under
    # one excursion in 3 h, so both levels lie past the highest window, and the history's
    # median window lies far below them.
    per_minute: dict[int, int] = {}
    seen: set[str] = set()
    with histories["quiet"].open("rb") as handle:
        for line in handle:
            e = msgspec.json.decode(line)
            if (e.get("type") != "report" or e.get("policy_area") != "youth_safety"
                    or e["event_id"] in seen):
                continue
            seen.add(e["event_id"])
            at = dt.datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
            minute = int(at.timestamp()) // 60
            per_minute[minute] = per_minute.get(minute, 0) + 1
    first, last = min(per_minute), max(per_minute)
    windows = sorted(sum(per_minute.get(m, 0) for m in range(end - 4, end + 1))
                     for end in range(first + 4, last))
    assert windows[-1] <= youth["warn"] <= youth["critical"] < 3 * windows[-1]
    assert windows[len(windows) // 2] < youth["warn"]


def test_unknown_fit_unlevelled_signal_is_refused(
        histories: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.yaml"
    assert main(["calibrate", "--events", str(histories["quiet"]), "--out", str(out),
                 "--fit-unlevelled", "report_volum", "--quiet"]) == 2
    assert "no signal report_volum" in capsys.readouterr().err
    assert not out.exists()


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


LEVELS = {"warn", "critical", "warn_clear", "critical_clear", "why"}


def test_rule_options_are_carried_from_the_base_unchanged(
        histories: dict[str, Path], tmp_path: Path) -> None:
    """seasonal, surprise_of: count, baseline_max and sequential (defaults and an area's
    own) reach the calibrated file as the base has them; it loads and checks."""
    shipped = default_config_path()
    base = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    base["policy_areas"] = str(shipped.parent / "policy_areas.yaml")
    base["defaults"]["violation_rate"]["sequential"] = "cusum"
    base["defaults"]["report_surge"]["seasonal_days"] = 3
    base["areas"]["hate_speech"] = {"overturn_rate": {"baseline_max": "2h",
                                                      "sequential": "cusum"}}
    base_path = tmp_path / "base.yaml"
    base_path.write_text(yaml.safe_dump(base), encoding="utf-8")
    out = tmp_path / "fitted.yaml"
    assert main(["calibrate", "--events", str(histories["quiet"]), "--config",
                 str(base_path), "--out", str(out), "--pages-per-day", str(BUDGET),
                 "--quiet"]) == 0
    before, after = load_config(base_path), load_config(out)
    assert before.rules.keys() == after.rules.keys()
    for key, rule in before.rules.items():
        assert (rule.model_dump(exclude=LEVELS) == after.rules[key].model_dump(exclude=LEVELS)
                ), key
    hate = after.rules[("hate_speech", "overturn_rate")]
    assert (hate.sequential, hate.baseline_max_s) == ("cusum", 7200)
    assert after.rules[("scams_fraud", "overturn_rate")].baseline_max_s == 4 * 3600
    assert after.rules[("scams_fraud", "violation_rate")].sequential == "cusum"
    assert after.rules[("scams_fraud", "appeal_rate")].surprise_of == "count"
    assert after.rules[("scams_fraud", "report_surge")].seasonal_s == 3600
    assert after.rules[("scams_fraud", "report_surge")].seasonal_days == 3
    assert main(["config", "check", str(out)]) == 0
