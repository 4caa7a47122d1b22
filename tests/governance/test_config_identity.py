"""signals.identity.config_digest: equal for equal meaning, different for any changed setting.

Config.digest (today in signals/config.py) hashes the raw file values, so ``10`` vs ``10.0``
and ``5m`` vs ``300s`` move it; config_digest hashes the resolved model and must not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from signals.identity import config_digest, normalized
from streams.config_files import load_config
from tests.governance.test_config_digest import (
    TAXONOMY,
    TAXONOMY_REORDERED,
    THRESHOLDS,
    THRESHOLDS_REORDERED,
)

# THRESHOLDS with every value spelled differently but meaning the same:
# floats for ints, seconds for minutes, an explicit step equal to the window,
# and an override that repeats its default.
THRESHOLDS_RESPELLED = """\
version: 1
engine:
  allowed_lateness: 1m
defaults:
  minor_exposure:
    window: 300s
    step: 60s
    warn: 8.0
    critical: 15.00
    for: 120s
  report_volume:
    window: 5m
    step: 5m
    warn: 1.5e3
    critical: 3000.0
areas:
  youth_safety:
    minor_exposure:
      warn: 6.0
      critical: 10
      window: 5m
"""


def digest_of(tmp: Path, thresholds: str, taxonomy: str = TAXONOMY) -> str:
    (tmp / "policy_areas.yaml").write_text(taxonomy)
    (tmp / "thresholds.yaml").write_text(thresholds)
    value = config_digest(load_config(tmp / "thresholds.yaml"))
    assert len(value) == 12
    int(value, 16)  # hex
    return value


def test_same_meaning_same_digest(tmp_path: Path) -> None:
    base = digest_of(tmp_path, THRESHOLDS)
    assert digest_of(tmp_path, THRESHOLDS_REORDERED) == base  # key order, comments
    assert digest_of(tmp_path, THRESHOLDS, TAXONOMY_REORDERED) == base
    assert digest_of(tmp_path, THRESHOLDS_RESPELLED) == base  # 10.0, 300s, explicit step


@pytest.mark.parametrize(("old", "new"), [
    ("      critical: 10\n", "      critical: 10.0\n"),
    ("    critical: 3000\n", "    critical: 3e3\n"),
    ("    window: 5m\n    step: 1m\n", "    window: 300s\n    step: 60s\n"),
    ("    for: 2m\n", "    for: 120s\n"),
    ("  allowed_lateness: 60s\n", "  allowed_lateness: 1m\n"),
    ("    window: 5m\n    warn: 1500\n", "    window: 5m\n    step: 5m\n    warn: 1500\n"),
    ("      critical: 10\n", "      critical: 10  # was 12 until the review\n"),
])
def test_one_respelling_keeps_the_digest(tmp_path: Path, old: str, new: str) -> None:
    assert THRESHOLDS.count(old) == 1
    base = digest_of(tmp_path, THRESHOLDS)
    assert digest_of(tmp_path, THRESHOLDS.replace(old, new)) == base


@pytest.mark.parametrize(("old", "new"), [
    ("      critical: 10\n", "      critical: 10.5\n"),       # an area override's level
    ("      warn: 6\n", "      warn: 5\n"),
    ("    warn: 8\n", "    warn: 9\n"),                        # a default's level
    ("    critical: 15\n", "    critical: 15.001\n"),
    ("    critical: 3000\n", "    critical: 2999\n"),
    ("    warn: 1500\n", "    warn: 1500\n    warn_clear: 1400\n"),
    ("    critical: 3000\n", "    critical: 3000\n    critical_clear: 2000\n"),
    ("    step: 1m\n", "    step: 5m\n"),
    ("    for: 2m\n", "    for: 3m\n"),
    ("    critical: 3000\n", "    critical: 3000\n    min_samples: 10\n"),
    ("  allowed_lateness: 60s\n", "  allowed_lateness: 90s\n"),
    ("  allowed_lateness: 60s\n", "  allowed_lateness: 60s\n  markets: [DE]\n"),
    ("      critical: 10\n", "      critical: 10\n      enabled: false\n"),
])
def test_any_changed_setting_moves_the_digest(tmp_path: Path, old: str, new: str) -> None:
    assert THRESHOLDS.count(old) == 1
    base = digest_of(tmp_path, THRESHOLDS)
    assert digest_of(tmp_path, THRESHOLDS.replace(old, new)) != base


def test_a_changed_taxonomy_moves_the_digest(tmp_path: Path) -> None:
    base = digest_of(tmp_path, THRESHOLDS)
    changed = TAXONOMY.replace("owner: wellbeing-policy", "owner: trust-ops")
    assert digest_of(tmp_path, THRESHOLDS, changed) != base


def test_normalized_content_is_the_resolved_rules(tmp_path: Path) -> None:
    (tmp_path / "policy_areas.yaml").write_text(TAXONOMY)
    (tmp_path / "thresholds.yaml").write_text(THRESHOLDS_RESPELLED)
    config = load_config(tmp_path / "thresholds.yaml")
    content = normalized(config.taxonomy, config.engine, config.rules)
    # Written by hand from THRESHOLDS_RESPELLED: the youth_safety override merged on the default.
    youth = content["rules"]["youth_safety.minor_exposure"]
    assert (youth["window_s"], youth["step_s"], youth["for_s"]) == (300, 60, 120)
    assert (youth["warn"], youth["critical"]) == (6.0, 10.0)
    assert content["rules"]["body_image.minor_exposure"]["critical"] == 15.0
    assert content["rules"]["other.report_volume"]["step_s"] == 300
    assert content["engine"]["allowed_lateness_s"] == 60
    assert sorted(content["rules"]) == sorted(
        f"{a}.{s}" for a in ("youth_safety", "body_image", "other")
        for s in ("minor_exposure", "report_volume"))
