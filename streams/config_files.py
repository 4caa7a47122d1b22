"""Reading config files from disk: YAML in, validated :class:`signals.config.Config` out."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from signals.config import Config, ConfigError, parse_taxonomy, parse_thresholds

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def default_config_path() -> Path:
    """``$HARMWATCH_CONFIG``, else the thresholds file shipped in the repository."""
    env = os.environ.get("HARMWATCH_CONFIG")
    return Path(env) if env else REPO_CONFIG / "thresholds.yaml"


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}{where}: not valid YAML: {problem}"]) from None


def load_config(path: Path | None = None) -> Config:
    """Load a thresholds file and the taxonomy it names (relative to the thresholds file)."""
    path = path or default_config_path()
    data = _read_yaml(path)
    taxonomy_name = "policy_areas.yaml"
    if isinstance(data, dict) and isinstance(data.get("policy_areas"), str):
        taxonomy_name = data["policy_areas"]
    taxonomy_path = path.parent / taxonomy_name
    taxonomy = parse_taxonomy(_read_yaml(taxonomy_path), str(taxonomy_path))
    return parse_thresholds(data, taxonomy, str(path))


def check_file(path: Path) -> Config | None:
    """Validate either kind of config file; returns the full config for a thresholds file."""
    data = _read_yaml(path)
    if isinstance(data, dict) and "areas" in data and "defaults" not in data:
        parse_taxonomy(data, str(path))
        return None
    return load_config(path)
