"""The register of controls: which systemic risk each alert rule (area × signal) controls,
who owns it, and where its assessment is written down.

Under the EU Digital Services Act a very large platform assesses the systemic risks of
Art. 34(1) and puts mitigations in place (Art. 35); an auditor (Art. 37) tests that the
stated controls operated. A threshold rule that pages is such a control, so the register
names its risk, owner and reference. Pure: takes parsed mappings, like ``signals.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signals.config import Config, ConfigError
from signals.definitions import SIGNALS

# The systemic-risk categories of DSA Art. 34(1), one id per risk an analyst may name.
RISKS: Final[dict[str, str]] = {
    "illegal_content": "Art. 34(1)(a) dissemination of illegal content",
    "fundamental_rights": "Art. 34(1)(b) fundamental rights (dignity, privacy, data "
                          "protection, expression, non-discrimination, rights of the child, "
                          "consumer protection)",
    "civic_discourse": "Art. 34(1)(c) civic discourse, electoral processes and public "
                       "security",
    "gender_based_violence": "Art. 34(1)(d) gender-based violence",
    "public_health": "Art. 34(1)(d) protection of public health",
    "protection_of_minors": "Art. 34(1)(d) protection of minors",
    "wellbeing": "Art. 34(1)(d) serious negative consequences to physical and mental "
                 "well-being",
}
AREA_DEFAULT: Final = "default"  # a block that applies to every signal of its area


class Control(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    risk: str | None = None
    owner: str | None = Field(default=None, min_length=1, pattern=r"^[a-z0-9][a-z0-9_.@-]*$")
    reference: str | None = Field(default=None, min_length=1)


class _ControlsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    controls: dict[str, dict[str, Control]] = {}


@dataclass(frozen=True)
class Register:
    """The control of every rule the register names (area defaults already merged)."""

    controls: Mapping[tuple[str, str], Control]
    source: str = "controls.yaml"

    def control(self, area: str, signal: str) -> Control | None:
        return self.controls.get((area, signal))

    def owner(self, area: str, signal: str) -> str | None:
        control = self.control(area, signal)
        return control.owner if control else None


def _problems(exc: ValidationError, source: str) -> list[str]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"])
        if err["type"] == "extra_forbidden":
            msg = "unknown key; the keys are risk, owner and reference"
        elif err["type"] == "string_pattern_mismatch":
            msg = "an owner is a team or mailbox id, lower case like youth-safety-policy"
        out.append(f"{source}: {path or '(top level)'}: {msg}")
    return out


def parse_controls(data: object, config: Config, source: str = "controls.yaml") -> Register:
    """Validate a controls mapping against the thresholds config it describes."""
    if data is None:
        return Register({}, source)
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: (top level): expected a mapping with 'version' and "
                           "'controls'"])
    try:
        raw = _ControlsFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, source)) from None
    problems: list[str] = []
    if raw.version != 1:
        problems.append(f"{source}: version: {raw.version} is not supported; write version: 1")
    known_risks = ", ".join(RISKS)
    merged: dict[tuple[str, str], Control] = {}
    for area, entries in raw.controls.items():
        if area not in config.areas:
            problems.append(f"{source}: controls.{area}: unknown policy area; known: "
                            f"{', '.join(config.areas)}")
            continue
        for signal, control in entries.items():
            path = f"controls.{area}.{signal}"
            if control.risk is not None and control.risk not in RISKS:
                problems.append(f"{source}: {path}.risk: unknown risk {control.risk!r}; use "
                                f"one of the DSA Art. 34 categories: {known_risks}")
            if signal == AREA_DEFAULT:
                continue
            if signal not in SIGNALS:
                problems.append(f"{source}: {path}: unknown signal; known: "
                                f"{', '.join(SIGNALS)}")
            elif config.rule(area, signal) is None:
                problems.append(f"{source}: {path}: {config.source} has no enabled rule for "
                                f"{area} × {signal}; remove this entry or add the rule")
        default = entries.get(AREA_DEFAULT, Control())
        for (rule_area, signal) in config.rules:
            if rule_area != area:
                continue
            own = entries.get(signal)
            fields = default.model_dump(exclude_none=True)
            if own is not None:
                fields.update(own.model_dump(exclude_none=True))
            if fields:
                merged[(area, signal)] = Control(**fields)
    if problems:
        raise ConfigError(problems)
    return Register(merged, source)


def unowned_paging_rules(config: Config, register: Register) -> list[tuple[str, str]]:
    """Rules with a critical level (they page) that no control names an owner for."""
    return sorted(key for key, rule in config.rules.items()
                  if rule.critical is not None and register.owner(*key) is None)
