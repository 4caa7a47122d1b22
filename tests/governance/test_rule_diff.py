"""Field-by-field config differences, in the spelling of the thresholds file."""

from __future__ import annotations

from streams.governance.rule_diff import diff_configs
from tests.helpers import make_config

DEFAULTS = {
    "minor_exposure": {"window": "5m", "step": "1m", "warn": 8, "critical": 15, "for": "2m"},
    "report_volume": {"window": "5m", "warn": 1500},
}


def texts(old: dict, new: dict, old_areas: dict | None = None,  # type: ignore[type-arg]
          new_areas: dict | None = None) -> list[str]:  # type: ignore[type-arg]
    return [c.text() for c in diff_configs(make_config(old, old_areas),
                                           make_config(new, new_areas))]


def test_same_config_has_no_changes() -> None:
    assert texts(DEFAULTS, DEFAULTS) == []


def test_an_area_override_changes_only_that_area() -> None:
    override = {"youth_safety": {"minor_exposure": {"critical": 10}}}
    lowered = {"youth_safety": {"minor_exposure": {"critical": 8}}}
    assert texts(DEFAULTS, DEFAULTS, override, lowered) == [
        "areas.youth_safety.minor_exposure.critical: 10 -> 8"]


def test_a_default_reaches_every_area_and_durations_read_as_written() -> None:
    new = {**DEFAULTS, "minor_exposure": {**DEFAULTS["minor_exposure"], "for": "90s"}}
    # the test taxonomy: youth_safety, adult_nudity, body_image, plus `other`
    assert texts(DEFAULTS, new) == [
        f"areas.{a}.minor_exposure.for: 2m -> 1m30s"
        for a in ("adult_nudity", "body_image", "other", "youth_safety")]


def test_a_level_added_and_a_rule_disabled() -> None:
    new = {**DEFAULTS, "report_volume": {"window": "5m", "warn": 1500, "critical": 3000}}
    areas = {"body_image": {"minor_exposure": {"enabled": False}}}
    got = texts(DEFAULTS, new, None, areas)
    assert "areas.body_image.minor_exposure: enabled -> (none)" in got
    assert "areas.youth_safety.report_volume.critical: (none) -> 3000" in got
    assert not any(t.startswith("areas.body_image.minor_exposure.") for t in got)
    assert len(got) == 1 + 4  # the disabled rule, critical added in four areas
