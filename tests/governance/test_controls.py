"""The register of controls: validated against the thresholds, listed, owners checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from signals.config import Config, ConfigError
from signals.controls import parse_controls, unowned_paging_rules
from tests.helpers import TAXONOMY, make_config
from tests.support import REPO

DEFAULTS = {
    "minor_exposure": {"window": "5m", "warn": 8, "critical": 15},
    "report_volume": {"window": "5m", "warn": 1500},  # warn only: tickets, never pages
}
AREAS = {"body_image": {"minor_exposure": {"enabled": False}}}


def config() -> Config:
    return make_config(DEFAULTS, AREAS)


def test_area_default_and_signal_entries_merge_field_by_field() -> None:
    register = parse_controls({"version": 1, "controls": {"youth_safety": {
        "default": {"risk": "protection_of_minors", "owner": "youth-safety-policy"},
        "minor_exposure": {"reference": "RA-2026 4.2", "owner": "child-safety-oncall"}}}},
        config())
    minor = register.control("youth_safety", "minor_exposure")
    assert minor is not None
    assert (minor.risk, minor.owner, minor.reference) == (
        "protection_of_minors", "child-safety-oncall", "RA-2026 4.2")
    volume = register.control("youth_safety", "report_volume")
    assert volume is not None and (volume.risk, volume.owner, volume.reference) == (
        "protection_of_minors", "youth-safety-policy", None)
    assert register.control("adult_nudity", "minor_exposure") is None


@pytest.mark.parametrize(("controls", "message"), [
    ({"hate": {"default": {"owner": "x"}}},
     "controls.yaml: controls.hate: unknown policy area; known: youth_safety, adult_nudity, "
     "body_image, other"),
    ({"youth_safety": {"minor_exposur": {"owner": "x"}}},
     "controls.yaml: controls.youth_safety.minor_exposur: unknown signal; known: "),
    ({"body_image": {"minor_exposure": {"owner": "x"}}},
     "controls.yaml: controls.body_image.minor_exposure: test-thresholds.yaml has no enabled "
     "rule for body_image × minor_exposure; remove this entry or add the rule"),
    ({"youth_safety": {"default": {"risk": "minors"}}},
     "controls.yaml: controls.youth_safety.default.risk: unknown risk 'minors'; use one of the "
     "DSA Art. 34 categories: illegal_content, "),
    ({"youth_safety": {"default": {"owners": "x"}}},
     "controls.yaml: controls.youth_safety.default.owners: unknown key; the keys are risk, "
     "owner and reference"),
])
def test_bad_entries_are_refused_with_file_field_and_fix(controls: dict,  # type: ignore[type-arg]
                                                         message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_controls({"version": 1, "controls": controls}, config())
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(message)


def test_only_paging_rules_without_an_owner_are_flagged() -> None:
    register = parse_controls({"version": 1, "controls": {
        "youth_safety": {"minor_exposure": {"owner": "youth-safety-policy"}},
        "adult_nudity": {"minor_exposure": {"risk": "protection_of_minors"}}}}, config())
    # body_image's minor_exposure is disabled; report_volume has no critical level
    assert unowned_paging_rules(config(), register) == [
        ("adult_nudity", "minor_exposure"), ("other", "minor_exposure")]


def write(tmp: Path, controls: str | None) -> Path:
    (tmp / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (tmp / "thresholds.yaml").write_text(yaml.safe_dump(
        {"version": 1, "defaults": DEFAULTS, "areas": AREAS}))
    if controls is not None:
        (tmp / "controls.yaml").write_text(controls)
    return tmp / "thresholds.yaml"


def harmwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


CONTROLS = """\
version: 1
controls:
  youth_safety:
    default: {risk: protection_of_minors, owner: youth-safety-policy}
    minor_exposure: {reference: "RA-2026 4.2"}
  adult_nudity:
    minor_exposure: {risk: protection_of_minors}
"""


def test_controls_csv_lists_every_rule(tmp_path: Path) -> None:
    result = harmwatch("controls", "--config", str(write(tmp_path, CONTROLS)), "--format",
                       "csv")
    assert result.returncode == 0, result.stderr
    minors = "Art. 34(1)(d) protection of minors"
    assert result.stdout.splitlines() == [
        "policy_area,signal,pages,warn,critical,risk,risk_label,owner,reference",
        f"adult_nudity,minor_exposure,yes,8,15,protection_of_minors,{minors},,",
        "adult_nudity,report_volume,no,1500,,,,,",
        "body_image,report_volume,no,1500,,,,,",
        "other,minor_exposure,yes,8,15,,,,",
        "other,report_volume,no,1500,,,,,",
        f"youth_safety,minor_exposure,yes,8,15,protection_of_minors,{minors},"
        "youth-safety-policy,RA-2026 4.2",
        f"youth_safety,report_volume,no,1500,,protection_of_minors,{minors},"
        "youth-safety-policy,",
    ]


def test_config_check_warns_about_paging_rules_without_owner(tmp_path: Path) -> None:
    result = harmwatch("config", "check", str(write(tmp_path, CONTROLS)))
    assert result.returncode == 0, result.stderr
    warnings = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
    assert [w.split(": ", 2)[2] for w in warnings] == [
        "1 paging rule(s) of adult_nudity have no owner (minor_exposure); add "
        "controls.adult_nudity.default.owner or controls.adult_nudity.<signal>.owner",
        "1 paging rule(s) of other have no owner (minor_exposure); add "
        "controls.other.default.owner or controls.other.<signal>.owner"]


def test_config_check_refuses_a_bad_register(tmp_path: Path) -> None:
    result = harmwatch("config", "check", str(write(
        tmp_path, "version: 1\ncontrols:\n  youth_safety:\n    minor_exposur: {owner: x}\n")))
    assert result.returncode == 1
    assert f"{tmp_path}/controls.yaml: controls.youth_safety.minor_exposur: unknown signal" \
        in result.stderr


def test_the_shipped_register_is_valid_and_leaves_only_other_unowned() -> None:
    result = harmwatch("config", "check")
    assert result.returncode == 0, result.stderr
    warnings = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
    assert len(warnings) == 1 and "paging rule(s) of other have no owner" in warnings[0]
