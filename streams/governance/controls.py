"""Reading the register of controls (``controls.yaml`` next to the thresholds file) and
listing it: one row per alert rule, with its levels, risk, owner and reference."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from signals.config import Config, ConfigError
from signals.controls import RISKS, Register, parse_controls, unowned_paging_rules

CONTROLS_FILE: Final = "controls.yaml"
COLUMNS: Final = ("policy_area", "signal", "pages", "warn", "critical", "risk", "risk_label",
                  "owner", "reference")


def controls_path(config: Config) -> Path:
    return Path(config.source).parent / CONTROLS_FILE


def load_register(config: Config, path: Path | None = None) -> Register:
    """The register for ``config``; an absent file is an empty register (every paging rule
    is then unowned, which ``config check`` says)."""
    path = path or controls_path(config)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Register({}, str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError([f"{path}{where}: not valid YAML: "
                           f"{getattr(exc, 'problem', None) or exc}"]) from None
    return parse_controls(data, config, str(path))


@dataclass(frozen=True)
class ControlRow:
    policy_area: str
    signal: str
    pages: bool
    warn: float | None
    critical: float | None
    risk: str | None
    owner: str | None
    reference: str | None

    @property
    def risk_label(self) -> str | None:
        return RISKS.get(self.risk) if self.risk else None


def rows(config: Config, register: Register) -> list[ControlRow]:
    out = []
    for (area, signal), rule in sorted(config.rules.items()):
        control = register.control(area, signal)
        out.append(ControlRow(area, signal, rule.critical is not None, rule.warn,
                              rule.critical, control.risk if control else None,
                              control.owner if control else None,
                              control.reference if control else None))
    return out


def to_csv(items: list[ControlRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in items:
        writer.writerow(["" if v is None else v for v in (
            r.policy_area, r.signal, "yes" if r.pages else "no", _num(r.warn),
            _num(r.critical), r.risk, r.risk_label, r.owner, r.reference)])
    return buf.getvalue()


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def unowned_warnings(config: Config, register: Register) -> list[str]:
    """One warning per area with paging rules that nobody owns."""
    by_area: dict[str, list[str]] = {}
    for area, signal in unowned_paging_rules(config, register):
        by_area.setdefault(area, []).append(signal)
    return [f"warning: {register.source}: {len(signals)} paging rule(s) of {area} have no "
            f"owner ({', '.join(signals)}); add controls.{area}.default.owner or "
            f"controls.{area}.<signal>.owner"
            for area, signals in by_area.items()]


def owners_of(register: Register, keys: set[tuple[str, str]]) -> dict[str, list[str]]:
    """Owner -> the controls among ``keys`` they own ("" for the unowned ones)."""
    out: dict[str, list[str]] = {}
    for area, signal in sorted(keys):
        out.setdefault(register.owner(area, signal) or "", []).append(f"{area}.{signal}")
    return dict(sorted(out.items()))
