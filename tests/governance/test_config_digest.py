"""Config identity: the digest ignores key order and comments, and moves with any level."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config_files import load_config

TAXONOMY = """\
version: 1
areas:
  youth_safety:
    name: Youth safety
    owner: youth-safety-policy
    runbook_url: https://runbooks.example.com/youth_safety
  body_image:
    name: Body image
    owner: wellbeing-policy
    runbook_url: https://runbooks.example.com/body_image
"""

# The same taxonomy: areas and keys reordered, comments added.
TAXONOMY_REORDERED = """\
# owners are teams, not people
areas:
  body_image:
    runbook_url: https://runbooks.example.com/body_image   # moved wiki
    owner: wellbeing-policy
    name: Body image
  youth_safety:
    owner: youth-safety-policy
    name: Youth safety
    runbook_url: https://runbooks.example.com/youth_safety
version: 1
"""

THRESHOLDS = """\
version: 1
engine:
  allowed_lateness: 60s
defaults:
  minor_exposure:
    window: 5m
    step: 1m
    warn: 8
    critical: 15
    for: 2m
  report_volume:
    window: 5m
    warn: 1500
    critical: 3000
areas:
  youth_safety:
    minor_exposure:
      warn: 6
      critical: 10
"""

THRESHOLDS_REORDERED = """\
# reviewed 2026-11-30
areas:
  youth_safety:
    minor_exposure:   # child safety: lower bar
      critical: 10
      warn: 6
defaults:
  report_volume:
    critical: 3000
    warn: 1500
    window: 5m
  minor_exposure:
    for: 2m
    critical: 15
    warn: 8
    step: 1m
    window: 5m
engine:
  allowed_lateness: 60s
version: 1
"""


def digest(tmp: Path, thresholds: str, taxonomy: str = TAXONOMY) -> str:
    (tmp / "policy_areas.yaml").write_text(taxonomy)
    (tmp / "thresholds.yaml").write_text(thresholds)
    config = load_config(tmp / "thresholds.yaml")
    assert len(config.digest) == 12
    int(config.digest, 16)  # hex
    return config.digest


def test_digest_ignores_key_order_and_comments(tmp_path: Path) -> None:
    base = digest(tmp_path, THRESHOLDS)
    assert digest(tmp_path, THRESHOLDS_REORDERED) == base
    assert digest(tmp_path, THRESHOLDS, TAXONOMY_REORDERED) == base
    assert digest(tmp_path, THRESHOLDS_REORDERED, TAXONOMY_REORDERED) == base


@pytest.mark.parametrize(("old", "new"), [
    ("      critical: 10\n", "      critical: 8\n"),          # an area override's level
    ("      warn: 6\n", "      warn: 5\n"),
    ("    warn: 8\n", "    warn: 9\n"),                        # a default's level
    ("    critical: 3000\n", "    critical: 2999\n"),
    ("    for: 2m\n", "    for: 3m\n"),
    ("  allowed_lateness: 60s\n", "  allowed_lateness: 90s\n"),
])
def test_digest_differs_for_any_changed_setting(tmp_path: Path, old: str, new: str) -> None:
    assert THRESHOLDS.count(old) == 1
    base = digest(tmp_path, THRESHOLDS)
    assert digest(tmp_path, THRESHOLDS.replace(old, new)) != base


def test_digest_differs_when_the_taxonomy_changes(tmp_path: Path) -> None:
    base = digest(tmp_path, THRESHOLDS)
    changed = TAXONOMY.replace("owner: wellbeing-policy", "owner: trust-ops")
    assert digest(tmp_path, THRESHOLDS, changed) != base

