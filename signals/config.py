"""Config models: the policy-area taxonomy and the thresholds analysts edit.

Pure: functions take already-parsed mappings (YAML is read in ``streams.config_files``).
Models are frozen so a running worker can swap a whole new config in one assignment and
keep the old one when a new file is refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from signals.definitions import SIGNALS
from signals.durations import format_duration, parse_duration
from signals.identity import resolved_digest
from signals.rule_options import OPTIONAL_DEFAULTS, option_problem

OTHER: Final = "other"
Severity = Literal["warn", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = ("warn", "critical")
DEFAULT_CLEAR_FACTOR: Final = 0.8
Mode = Literal["absolute", "count_surprise", "rate_surprise", "baseline_ratio"]
# Which signal kinds each mode can judge (see signals.judges).
MODE_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "absolute": ("count", "ratio", "quantile", "baseline"),
    "count_surprise": ("count", "baseline"),
    "rate_surprise": ("ratio",),
    "baseline_ratio": ("count", "quantile"),
}


class ConfigError(ValueError):
    """A refused config. ``str()`` is one line per problem: file, field, what is wrong, the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _duration(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write it as a string like 30s, 5m or 1h")
    return parse_duration(value)


Duration = Annotated[int, BeforeValidator(_duration)]
AreaName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


# --- taxonomy ---------------------------------------------------------------------------


class AreaInfo(_Strict):
    name: str = Field(min_length=1)
    owner: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    runbook_url: str = Field(pattern=r"^https?://\S+$")


class Taxonomy(_Strict):
    version: Literal[1]
    areas: dict[AreaName, AreaInfo]

    @model_validator(mode="after")
    def _no_reserved(self) -> Taxonomy:
        if OTHER in self.areas:
            raise ValueError(f"'{OTHER}' is reserved for area ids missing from the taxonomy")
        if not self.areas:
            raise ValueError("the taxonomy needs at least one policy area")
        return self

    def area_ids(self) -> tuple[str, ...]:
        return (*self.areas, OTHER)

    def info(self, area: str) -> AreaInfo:
        return self.areas.get(area) or AreaInfo(
            name="Other (not in taxonomy)",
            owner="policy-ops",
            runbook_url="https://runbooks.example.com/harmwatch/other",
        )


# --- thresholds -------------------------------------------------------------------------


class SignalRule(_Strict):
    """How one signal of one area is windowed and judged."""

    window_s: Duration = Field(alias="window", gt=0)
    step_s: Duration | None = Field(default=None, alias="step")
    mode: Mode = "absolute"
    direction: Literal["above", "below"] = "above"
    warn: float | None = None
    critical: float | None = None
    warn_clear: float | None = None
    critical_clear: float | None = None
    min_samples: int = Field(default=0, ge=0)
    min_ratio: float = Field(default=1.0, ge=0)
    min_lift: float = Field(default=0.0, ge=0, le=1)
    for_s: Duration = Field(default=0, alias="for")
    baseline_s: Duration | None = Field(default=None, alias="baseline")
    # count_surprise: the daily shape's slot width (signals.seasonal); None: trailing only.
    seasonal_s: Duration | None = Field(default=None, alias="seasonal")
    seasonal_days: int = Field(default=7, ge=1, le=28)
    # rate_surprise: a Bernoulli CUSUM across steps (signals.sequential).
    sequential: Literal["none", "cusum"] = "none"
    # rate_surprise: how far back a sparse area's baseline may pool (signals.judges).
    baseline_max_s: Duration | None = Field(default=None, alias="baseline_max")
    # rate_surprise: what the tail is of (signals.judges): k of n, or k as a count.
    surprise_of: Literal["rate", "count"] = "rate"
    enabled: bool = True
    why: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SignalRule:
        step = self.step_s if self.step_s is not None else self.window_s
        if step <= 0 or step > self.window_s:
            raise ValueError(f"step must be more than 0s and at most the window "
                             f"({format_duration(self.window_s)})")
        above = self.direction == "above"
        if self.warn is not None and self.critical is not None:
            if (self.warn > self.critical) if above else (self.warn < self.critical):
                raise ValueError(
                    f"warn ({self.warn:g}) is beyond critical ({self.critical:g}); with direction "
                    f"'{self.direction}' warn must be {'lower' if above else 'higher'} than "
                    "critical — swap them or change direction"
                )
        for sev in SEVERITIES:
            level, clear = getattr(self, sev), getattr(self, f"{sev}_clear")
            if level is None or clear is None:
                continue
            if (clear > level) if above else (clear < level):
                raise ValueError(
                    f"{sev}_clear ({clear:g}) must be {'at or below' if above else 'at or above'} "
                    f"{sev} ({level:g}) so that a firing alert can resolve"
                )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A rule that uses neither option dumps as before it existed: config digests of
        # existing files (and the generated artifacts that carry them) do not move.
        out: dict[str, Any] = handler(self)
        for name, default in OPTIONAL_DEFAULTS.items():
            if name in out and out[name] == default:
                del out[name]
        return out

    @property
    def step(self) -> int:
        return self.step_s if self.step_s is not None else self.window_s

    @property
    def relative(self) -> bool:
        """Judged against the area's own baseline (levels are scores, not signal values)."""
        return self.mode != "absolute"

    def level(self, severity: Severity) -> float | None:
        value: float | None = getattr(self, severity)
        return value

    def clear_level(self, severity: Severity) -> float | None:
        level = self.level(severity)
        if level is None:
            return None
        explicit: float | None = getattr(self, f"{severity}_clear")
        if explicit is not None:
            return explicit
        return level * DEFAULT_CLEAR_FACTOR if self.direction == "above" else (
            level / DEFAULT_CLEAR_FACTOR)


class EngineSettings(_Strict):
    allowed_lateness_s: Duration = Field(default=60, alias="allowed_lateness")
    dedupe_max_ids: int = Field(default=2_000_000, ge=1000)
    markets: tuple[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], ...] = ()


class _ThresholdsFile(_Strict):
    version: Literal[1]
    policy_areas: str = "policy_areas.yaml"
    engine: EngineSettings = EngineSettings()
    defaults: dict[str, dict[str, Any]]
    areas: dict[str, dict[str, dict[str, Any]]] = {}


@dataclass(frozen=True)
class Config:
    """A validated taxonomy and thresholds: what the engine, rules and dashboards read."""

    taxonomy: Taxonomy
    engine: EngineSettings
    rules: Mapping[tuple[str, str], SignalRule]
    source: str = "<memory>"
    digest: str = field(default="")

    def rule(self, area: str, signal: str) -> SignalRule | None:
        return self.rules.get((area, signal))

    @property
    def areas(self) -> tuple[str, ...]:
        return self.taxonomy.area_ids()

    @property
    def signals(self) -> tuple[str, ...]:
        seen = dict.fromkeys(sig for (_, sig) in self.rules)
        return tuple(s for s in SIGNALS if s in seen)

    @property
    def pane_s(self) -> int:
        """The pane: the largest span that every window and step is a whole number of."""
        spans = [r.window_s for r in self.rules.values()] + [r.step for r in self.rules.values()]
        spans += [r.baseline_s for r in self.rules.values() if r.baseline_s]
        return reduce(math.gcd, spans) if spans else 60


# --- validation helpers -----------------------------------------------------------------


def _field_path(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    for item in loc:
        item = str(item)
        if item.endswith("_s") and item[:-2] in ("window", "step", "for", "baseline",
                                                 "allowed_lateness", "seasonal"):
            item = item[:-2]
        if item in ("function-after[_consistent()]", "function-after[_no_reserved()]",
                    "[key]"):
            continue
        parts.append(item)
    return ".".join(parts)


def _fix_for(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove it or check its spelling"
    if kind == "missing":
        return "add it"
    return ""


def _problems(exc: ValidationError, source: str, prefix: str = "") -> list[str]:
    out = []
    for err in exc.errors():
        path = _field_path(tuple(err["loc"]), prefix)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "^[a-z][a-z0-9_]*$" in msg:
            msg = "must be lower snake_case, like youth_safety"
        fix = _fix_for(err)
        out.append(f"{source}: {path or '(top level)'}: {msg}" + (f"; {fix}" if fix else ""))
    return out


def parse_taxonomy(data: object, source: str = "policy_areas.yaml") -> Taxonomy:
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: (top level): expected a mapping with 'version' and "
                           "'areas'"])
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source)) from None


def parse_thresholds(data: object, taxonomy: Taxonomy, source: str = "thresholds.yaml") -> Config:
    """Validate a thresholds mapping against the taxonomy; resolve per-area rules."""
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: (top level): expected a mapping with 'version', "
                           "'defaults' and optionally 'engine' and 'areas'"])
    try:
        raw = _ThresholdsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source)) from None

    problems: list[str] = []
    known = ", ".join(SIGNALS)
    for signal in raw.defaults:
        if signal not in SIGNALS:
            problems.append(f"{source}: defaults.{signal}: unknown signal; known: {known}")
    area_ids = taxonomy.area_ids()
    for area, overrides in raw.areas.items():
        if area not in area_ids:
            problems.append(
                f"{source}: areas.{area}: unknown policy area; add it to the taxonomy first "
                f"(known: {', '.join(area_ids)})"
            )
            continue
        for signal in overrides:
            if signal not in SIGNALS:
                problems.append(f"{source}: areas.{area}.{signal}: unknown signal; known: {known}")
            elif signal not in raw.defaults:
                problems.append(f"{source}: areas.{area}.{signal}: no defaults.{signal} to "
                                "override; add the signal under defaults first")

    rules: dict[tuple[str, str], SignalRule] = {}
    defaults_ok: dict[str, bool] = {}
    for signal, spec in raw.defaults.items():
        if signal not in SIGNALS:
            continue
        issues = _check_rule(signal, spec, source, f"defaults.{signal}")
        problems.extend(issues)
        defaults_ok[signal] = not issues
    for signal, spec in raw.defaults.items():
        if not defaults_ok.get(signal):
            continue
        for area in area_ids:
            override = raw.areas.get(area, {}).get(signal)
            merged = {**spec, **(override or {})}
            path = f"areas.{area}.{signal}" if override else f"defaults.{signal}"
            issues = _check_rule(signal, merged, source, path)
            if issues:
                if override:
                    problems.extend(issues)
                continue
            rule = SignalRule.model_validate(merged)
            if rule.enabled:
                rules[(area, signal)] = rule
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))

    return Config(
        taxonomy=taxonomy,
        engine=raw.engine,
        rules=rules,
        source=source,
        digest=resolved_digest(taxonomy, raw.engine, rules),
    )


def _check_rule(signal: str, spec: Mapping[str, Any], source: str, path: str) -> list[str]:
    try:
        rule = SignalRule.model_validate(spec)
    except ValidationError as exc:
        return _problems(exc, source, path)
    kind = SIGNALS[signal].kind
    if kind not in MODE_KINDS[rule.mode]:
        fits = [m for m, kinds in MODE_KINDS.items() if kind in kinds]
        return [f"{source}: {path}.mode: {rule.mode} cannot judge {signal} (a {kind} signal); "
                f"use one of: {', '.join(fits)}"]
    if rule.relative:
        return _check_relative(rule, source, path)
    for name, default in (("min_ratio", 1.0), ("min_lift", 0.0), ("seasonal_s", None),
                          ("sequential", "none"), ("surprise_of", "rate"),
                          ("baseline_max_s", None)):
        if getattr(rule, name) != default:
            return [f"{source}: {path}.{name.removesuffix('_s')}: only relative modes use it; "
                    "remove it or set mode: count_surprise or rate_surprise"]
    if kind == "baseline" and not rule.baseline_s:
        return [f"{source}: {path}.baseline: {signal} compares against a trailing baseline; "
                "add baseline: (e.g. 1h)"]
    if kind != "baseline" and rule.baseline_s:
        return [f"{source}: {path}.baseline: only baseline signals (report_surge) take a "
                "baseline; remove it"]
    if rule.baseline_s and rule.baseline_s % rule.step:
        return [f"{source}: {path}.baseline: must be a whole number of steps "
                f"({format_duration(rule.step)})"]
    return []


def _check_relative(rule: SignalRule, source: str, path: str) -> list[str]:
    if not rule.baseline_s:
        return [f"{source}: {path}.baseline: mode {rule.mode} compares against the area's own "
                "trailing baseline; add baseline: (e.g. 30m)"]
    if rule.baseline_s % rule.step:
        return [f"{source}: {path}.baseline: must be a whole number of steps "
                f"({format_duration(rule.step)})"]
    if rule.baseline_s < 2 * rule.window_s:
        return [f"{source}: {path}.baseline: {format_duration(rule.baseline_s)} is under two "
                f"windows ({format_duration(rule.window_s)} each); make it at least "
                f"{format_duration(2 * rule.window_s)}"]
    if rule.direction != "above":
        return [f"{source}: {path}.direction: relative modes judge rises only; remove "
                "direction or use mode: absolute"]
    if rule.min_ratio != 1.0 and rule.mode != "count_surprise":
        return [f"{source}: {path}.min_ratio: only count_surprise uses it; remove it"]
    if rule.min_lift != 0.0 and rule.mode != "rate_surprise":
        return [f"{source}: {path}.min_lift: only rate_surprise uses it; remove it"]
    problem = option_problem(rule)
    return [f"{source}: {path}.{problem}"] if problem else []
