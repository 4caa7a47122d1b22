"""Reading config files from disk: YAML in, validated :class:`signals.config.Config` out."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from signals.config import Config, ConfigError, parse_taxonomy, parse_thresholds
from signals.reload import reload_blocker
from signals.threats_config import ThreatsConfig, parse_threats
from streams import paths
from streams.governance.audit_log import AuditLog

REPO_CONFIG = paths.CONFIG_DIR


def default_config_path() -> Path:
    """``$HARMWATCH_CONFIG``, else the thresholds file shipped in the repository."""
    env = os.environ.get("HARMWATCH_CONFIG")
    return Path(env) if env else REPO_CONFIG / paths.THRESHOLDS_FILE


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
    taxonomy_name = paths.TAXONOMY_FILE
    if isinstance(data, dict) and isinstance(data.get("policy_areas"), str):
        taxonomy_name = data["policy_areas"]
    taxonomy_path = path.parent / taxonomy_name
    taxonomy = parse_taxonomy(_read_yaml(taxonomy_path), str(taxonomy_path))
    return parse_thresholds(data, taxonomy, str(path))


THREATS_FILE = "threats.yaml"


def load_threats(path: Path | None = None, config: Config | None = None) -> ThreatsConfig:
    """The emergent-threat detectors' config (``config/threats.yaml`` beside the
    thresholds file unless named); with ``config``, also checked against its pane."""
    path = path or default_config_path().parent / THREATS_FILE
    threats = parse_threats(_read_yaml(path), str(path))
    if config is not None:
        threats.check_pane(config.pane_s, str(path))
    return threats


def check_file(path: Path) -> Config | None:
    """Validate either kind of config file; returns the full config for a thresholds file."""
    data = _read_yaml(path)
    if path.name == THREATS_FILE:
        parse_threats(data, str(path))
        return None
    if isinstance(data, dict) and "areas" in data and "defaults" not in data:
        parse_taxonomy(data, str(path))
        return None
    return load_config(path)


class ConfigWatcher:
    """Reloads a running process's config when its files change; a bad file is refused and
    the last good config stays in force.

    With an audit log, every config the process adopts is recorded: the one it starts with,
    and each reload when the driver assigns :attr:`current` (the moment it takes effect);
    every refused reload too, with its reason.
    """

    def __init__(self, path: Path | None, current: Config,
                 audit_log: Path | AuditLog | None = None) -> None:
        self.path = path or default_config_path()
        self._current = current
        self._stamp = self._mtimes()
        self.audit = AuditLog(audit_log) if isinstance(audit_log, Path) else audit_log
        if self.audit is not None:
            # At start a failure is loud (OSError): a process that must keep audit evidence
            # does not run without it.
            self.audit.accepted(current, self.path, "start")

    @property
    def current(self) -> Config:
        return self._current

    @current.setter
    def current(self, config: Config) -> None:
        previous, self._current = self._current, config
        if config.digest != previous.digest:
            self._record(lambda log: log.accepted(config, self.path, "reload", previous))

    def _record(self, write: Callable[[AuditLog], object]) -> None:
        if self.audit is None:
            return
        try:
            write(self.audit)
        except OSError as exc:
            # Mid-run the signals matter more than the evidence: keep monitoring, say so.
            print(f"harmwatch: cannot write the audit log {self.audit.path}: {exc}",
                  file=sys.stderr, flush=True)

    def _refuse(self, reason: str, digest: str | None = None) -> str:
        self._record(lambda log: log.refused(reason, self.path, self._current, digest))
        return reason

    def _files(self) -> list[Path]:
        files = [self.path]
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
            name = data.get("policy_areas") if isinstance(data, dict) else None
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            name = None
        files.append(self.path.parent / (name if isinstance(name, str) else paths.TAXONOMY_FILE))
        return files

    def _mtimes(self) -> tuple[float, ...]:
        out = []
        for f in self._files():
            try:
                out.append(f.stat().st_mtime)
            except OSError:
                out.append(-1.0)
        return tuple(out)

    def poll(self) -> tuple[Config | None, str | None]:
        """(new config, None) after a good change; (None, why) after a refused one;
        (None, None) when nothing changed. A config a running engine cannot take (a new
        pane, engine settings or taxonomy) is refused here, so the driver applies what it
        gets and the audit log holds the reason."""
        stamp = self._mtimes()
        if stamp == self._stamp:
            return None, None
        self._stamp = stamp
        try:
            config = load_config(self.path)
        except ConfigError as exc:
            return None, self._refuse(str(exc))
        if config.digest == self._current.digest:
            return None, None
        blocker = reload_blocker(self._current, config)
        if blocker is not None:
            return None, self._refuse(blocker, config.digest)
        return config, None
