"""Write a calibrated thresholds file: the base file's defaults, fitted levels per area.

The defaults section is the base file's own (modes, windows, ``for``, baselines, floors and
their ``why:``), so the calibrated file says everything the base did; each area gets every
signal's fitted ``warn`` / ``critical`` with a ``why:`` naming how they were derived.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import yaml

from signals.config import Config
from streams.backtest.calibrate import UNLEVELLED, RuleFit, RuleKey, fitted_count, unlevelled
from streams.config_files import _read_yaml


def taxonomy_reference(base: Path, base_data: Any, out: Path) -> str:
    """The base's taxonomy as a path relative to the output's folder (load_config reads it
    relative to the thresholds file)."""
    name = "policy_areas.yaml"
    if isinstance(base_data, dict) and isinstance(base_data.get("policy_areas"), str):
        name = base_data["policy_areas"]
    taxonomy = (base.parent / name).resolve()
    return os.path.relpath(taxonomy, out.resolve().parent)


def render(base: Path, config: Config, fits: dict[RuleKey, RuleFit], out: Path, *,
           events: Path, digest: str, span: tuple[dt.datetime, dt.datetime],
           pages_per_day: float, trim: int, rounds: int, now: dt.datetime) -> str:
    data = _read_yaml(base)
    assert isinstance(data, dict)
    hours = (span[1] - span[0]).total_seconds() / 3600
    source = (f"{events.name} (sha256 {digest[:16]}), {span[0]:%Y-%m-%d %H:%M} to "
              f"{span[1]:%Y-%m-%d %H:%M} UTC ({hours:.1f} h), calibrated {now:%Y-%m-%d %H:%M} "
              f"UTC")
    areas: dict[str, dict[str, Any]] = {}
    for (area, signal), f in sorted(fits.items()):
        base_override = (data.get("areas") or {}).get(area, {}).get(signal) or {}
        if f.critical is None or f.warn is None:
            if f.note == UNLEVELLED:
                areas.setdefault(area, {})[signal] = {**base_override, "why": (
                    f"Not calibrated: the base ({base.name}) gives {signal} no level, so it "
                    "does not alert (for report_volume: a capacity signal, whose level is "
                    "the platform's review capacity, not a peak of its history). To fit "
                    f"levels from observed volume, rerun with --fit-unlevelled {signal}.")}
            elif base_override:
                areas.setdefault(area, {})[signal] = base_override
            continue
        entry = {k: v for k, v in base_override.items()
                 if k not in ("warn", "critical", "warn_clear", "critical_clear", "why")}
        entry["warn"] = f.warn.level
        entry["critical"] = f.critical.level
        measure = "surprise score" if f.rule.mode.endswith("surprise") else (
            "ratio to baseline" if f.rule.mode == "baseline_ratio" else "value")
        entry["why"] = (f"Calibrated ({f.rule.mode}, levels are a {measure}) from {source}. "
                        f"critical {f.critical.level:g}: {f.critical.statistic}; "
                        f"warn {f.warn.level:g}: {f.warn.statistic}.")
        if unlevelled(f.rule):
            entry["why"] += (f" The base gives {signal} no level; fitted because asked for "
                             f"(--fit-unlevelled {signal}): for a capacity signal these are "
                             "guesses from observed volume, to be replaced by the real "
                             "capacity.")
        areas.setdefault(area, {})[signal] = entry
    body = {
        "version": 1,
        "policy_areas": taxonomy_reference(base, data, out),
        "engine": data.get("engine", {}),
        "defaults": data["defaults"],
        "areas": areas,
    }
    kept = sorted({s for (_, s), f in fits.items() if f.note == UNLEVELLED})
    header = (
        "# harmwatch thresholds CALIBRATED by `harmwatch calibrate` (edit freely; rerun to\n"
        "# refit). Base: " + str(base) + f" (config {config.digest}).\n"
        f"# History: {source}.\n"
        f"# Budget: {pages_per_day:g} false pages per day over the {fitted_count(fits)} "
        f"fitted rules (each\n# its share), warnings {4:g}x that; the {trim} highest "
        "excursions of each "
        "rule were set aside\n# as presumed incidents; "
        f"{rounds} verification replay(s). docs/detection.md (Calibrate) explains.\n"
        + (f"# Left without levels, as in the base: {', '.join(kept)} (--fit-unlevelled "
           "fits them).\n" if kept else ""))
    return header + yaml.safe_dump(body, sort_keys=False, width=96, allow_unicode=True)
