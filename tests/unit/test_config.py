"""Config validation: the shipped files load; each kind of mistake is refused by name."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from signals.config import ConfigError, parse_taxonomy
from streams.config_files import load_config
from tests.helpers import TAXONOMY, make_config
from tests.support import HARMWATCH, REPO

GOOD = {"report_volume": {"window": "5m", "warn": 10, "critical": 20}}


def test_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config" / "thresholds.yaml")
    required = {"youth_safety", "adult_nudity", "sexual_exposure", "body_image", "user_privacy",
                "scams_fraud", "hate_speech", "harassment", "dangerous_acts",
                "regulated_goods", "misinformation", "violent_extremism"}
    assert required <= set(config.areas) and "other" in config.areas
    for area in required:
        info = config.taxonomy.info(area)
        assert info.name and info.owner and info.runbook_url.startswith("https://")
    assert {"report_volume", "regulator_reports", "violation_rate", "escalation_rate",
            "minor_exposure", "appeal_rate", "overturn_rate", "review_latency_p95",
            "report_surge"} == set(config.signals)
    youth = config.rule("youth_safety", "minor_exposure")
    other = config.rule("body_image", "minor_exposure")
    assert youth and other and youth.critical == 4 and other.critical == 5  # override
    assert config.engine.allowed_lateness_s >= 60
    for rule in config.rules.values():
        assert rule.why, "every default threshold documents its reasoning"


def _refused(defaults: dict[str, Any], areas: dict[str, Any] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        make_config(defaults, areas)
    return str(info.value)


@pytest.mark.parametrize(("defaults", "areas", "expected"), [
    ({"report_volume": {**GOOD["report_volume"], "windw": "5m"}}, None,
     "defaults.report_volume.windw: unknown key"),
    ({"report_volume": {**GOOD["report_volume"], "window": "5 min"}}, None,
     "defaults.report_volume.window: '5 min' is not a duration; write it like 30s, 5m"),
    ({"report_volume": {**GOOD["report_volume"], "window": 300}}, None,
     "defaults.report_volume.window: 300 is not a duration"),
    ({"report_volume": {"window": "5m", "warn": 30, "critical": 20}}, None,
     "defaults.report_volume: warn (30) is beyond critical (20)"),
    ({"violation_rate": {"window": "5m", "direction": "below", "warn": 0.2,
                         "critical": 0.3}}, None,
     "warn (0.2) is beyond critical (0.3); with direction 'below'"),
    ({"report_volume": {**GOOD["report_volume"], "warn_clear": 12}}, None,
     "warn_clear (12) must be at or below warn (10)"),
    ({"report_volume": {**GOOD["report_volume"], "direction": "sideways"}}, None,
     "defaults.report_volume.direction: Input should be 'above' or 'below'"),
    ({"report_volume": {**GOOD["report_volume"], "min_samples": -1}}, None,
     "defaults.report_volume.min_samples"),
    ({"report_volume": {**GOOD["report_volume"], "step": "10m"}}, None,
     "step must be more than 0s and at most the window"),
    ({"report_volumes": GOOD["report_volume"]}, None,
     "defaults.report_volumes: unknown signal; known: report_volume"),
    ({"report_surge": {"window": "5m", "warn": 2}}, None,
     "defaults.report_surge.baseline: report_surge compares against a trailing baseline"),
    ({"report_volume": {**GOOD["report_volume"], "baseline": "1h"}}, None,
     "defaults.report_volume.baseline: only baseline signals"),
    (GOOD, {"youth_safty": {"report_volume": {"warn": 5}}},
     "areas.youth_safty: unknown policy area; add it to the taxonomy first"),
    (GOOD, {"youth_safety": {"minor_exposure": {"warn": 5}}},
     "areas.youth_safety.minor_exposure: no defaults.minor_exposure to override"),
    (GOOD, {"youth_safety": {"report_volume": {"warn": 50}}},
     "test-thresholds.yaml: areas.youth_safety.report_volume: warn (50) is beyond critical"),
    (GOOD, {"youth_safety": {"report_volume": {"for": "2 minutes"}}},
     "areas.youth_safety.report_volume.for: '2 minutes' is not a duration"),
])
def test_invalid_thresholds_are_refused_naming_the_field(
        defaults: dict[str, Any], areas: dict[str, Any] | None, expected: str) -> None:
    message = _refused(defaults, areas)
    assert expected in message
    assert message.startswith("test-thresholds.yaml: ")


def test_invalid_taxonomy_is_refused_naming_the_field() -> None:
    bad = {"version": 1, "areas": {"youth_safety": {**TAXONOMY["areas"]["youth_safety"],
                                                    "runbook_url": "not a url"}}}
    with pytest.raises(ConfigError, match=r"areas\.youth_safety\.runbook_url"):
        parse_taxonomy(bad, "policy_areas.yaml")
    with pytest.raises(ConfigError, match="'other' is reserved"):
        parse_taxonomy({"version": 1, "areas": {"other": TAXONOMY["areas"]["body_image"]}})
    with pytest.raises(ConfigError, match=r"areas\.Youth: must be lower snake_case"):
        parse_taxonomy({"version": 1, "areas": {"Youth": TAXONOMY["areas"]["body_image"]}})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HARMWATCH, *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def _write_config(tmp: Path, thresholds: dict[str, Any] | str) -> Path:
    (tmp / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    path = tmp / "thresholds.yaml"
    path.write_text(thresholds if isinstance(thresholds, str) else yaml.safe_dump(thresholds))
    return path


def test_config_check_cli(tmp_path: Path) -> None:
    ok = _cli("config", "check")
    assert ok.returncode == 0 and "ok" in ok.stdout
    good = _write_config(tmp_path, {"version": 1, "defaults": GOOD})
    assert _cli("config", "check", str(good)).returncode == 0
    bad = _write_config(tmp_path, {"version": 1, "defaults": {
        "report_volume": {"window": "5 min", "warn": 1}}})
    result = _cli("config", "check", str(bad))
    assert result.returncode == 1
    assert f"{bad}: defaults.report_volume.window: '5 min' is not a duration" in result.stderr


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = _cli("config", "check", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1 and "file not found" in missing.stderr
    broken = _write_config(tmp_path, "version: 1\ndefaults: [unclosed\n")
    result = _cli("config", "check", str(broken))
    assert result.returncode == 1 and "not valid YAML" in result.stderr
    assert "line 3" in result.stderr or "line 2" in result.stderr
