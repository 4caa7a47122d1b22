"""Field-by-field differences between two configs, in the spelling analysts write.

Rules are compared after defaults and per-area overrides are merged, so a changed default
shows under every area it reaches: that is what each area's control actually runs with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from signals.config import Config, SignalRule
from signals.durations import format_duration

Scalar = str | float | int | bool | None
# The rule fields in the order the thresholds file documents them (YAML names).
RULE_FIELDS: Final = ("window", "step", "direction", "warn", "critical", "warn_clear",
                      "critical_clear", "min_samples", "for", "baseline", "why")
_DURATIONS: Final = {"window": "window_s", "for": "for_s", "baseline": "baseline_s"}
ABSENT: Final = "(none)"


@dataclass(frozen=True)
class FieldChange:
    field: str  # e.g. areas.youth_safety.minor_exposure.critical
    old: Scalar
    new: Scalar

    def text(self) -> str:
        return f"{self.field}: {show(self.old)} -> {show(self.new)}"

    def as_json(self) -> dict[str, Scalar]:
        return {"field": self.field, "old": self.old, "new": self.new}


def show(value: Scalar) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def rule_fields(rule: SignalRule) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for name in RULE_FIELDS:
        if name == "step":
            value: Scalar = format_duration(rule.step)
        elif name in _DURATIONS:
            seconds = getattr(rule, _DURATIONS[name])
            value = None if seconds is None else format_duration(seconds)
        else:
            value = getattr(rule, name)
        out[name] = value
    return out


def flatten(config: Config) -> dict[str, Scalar]:
    """Every setting that decides what pages, keyed by its dotted path."""
    flat: dict[str, Scalar] = {}
    for (area, signal), rule in sorted(config.rules.items()):
        for name, value in rule_fields(rule).items():
            flat[f"areas.{area}.{signal}.{name}"] = value
    engine = config.engine
    flat["engine.allowed_lateness"] = format_duration(engine.allowed_lateness_s)
    flat["engine.dedupe_max_ids"] = engine.dedupe_max_ids
    flat["engine.markets"] = ",".join(engine.markets)
    for area, info in config.taxonomy.areas.items():
        for name in ("name", "owner", "runbook_url"):
            flat[f"policy_areas.{area}.{name}"] = getattr(info, name)
    return flat


def diff_flat(old: dict[str, Scalar], new: dict[str, Scalar]) -> list[FieldChange]:
    """Changes between two flattened configs; a rule present on one side only is one line
    (``areas.a.s: (none) -> enabled``) rather than a dozen field lines."""
    changes: list[FieldChange] = []
    old_rules, new_rules = _rule_paths(old), _rule_paths(new)
    for path in sorted(old_rules ^ new_rules):
        changes.append(FieldChange(path, None if path not in old_rules else "enabled",
                                   None if path not in new_rules else "enabled"))
    skip = old_rules ^ new_rules
    for key in sorted(old.keys() | new.keys()):
        if key.rsplit(".", 1)[0] in skip:
            continue
        if old.get(key) != new.get(key):
            changes.append(FieldChange(key, old.get(key), new.get(key)))
    return changes


def _rule_paths(flat: dict[str, Scalar]) -> set[str]:
    return {k.rsplit(".", 1)[0] for k in flat if k.startswith("areas.")}


def diff_configs(old: Config, new: Config) -> list[FieldChange]:
    return diff_flat(flatten(old), flatten(new))

