"""The config audit log: one JSON line per config the running system accepts or refuses.

Auditors need to show which thresholds were in force when, and that a refused file never
was. So the log is append-only (``O_APPEND``), each line goes out in one ``os.write`` and
is fsynced before the config takes effect, and a reader treats a final line without its
newline as torn (a kill -9 mid-write) instead of failing or guessing. Lines hold digests,
paths, field names and levels only: never a user, content or advertiser id.

Beside the log, ``<log>.snapshots/<digest>.json`` keeps each accepted config (flattened,
and its YAML files), so a restart can still say what changed since the previous process and
the audit report can show and replay any version.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any, Final

import orjson
import yaml

from signals.config import Config
from streams.governance.rule_diff import Scalar, diff_flat, flatten
from streams.paths import TAXONOMY_FILE

DEFAULT_AUDIT_LOG: Final = Path("var/audit/config.jsonl")
GIT_TIMEOUT_S: Final = 5.0
# The tail read to find the previous accepted digest at start; lines are a few KiB at most.
_TAIL_BYTES: Final = 1 << 20


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def git_source(path: Path) -> dict[str, Any]:
    """Where a config file came from: its path, and the commit of the checkout it sits in
    (None outside git or without git), with whether the file differs from that commit."""
    path = path.resolve()
    out: dict[str, Any] = {"path": str(path), "git_commit": None, "git_dirty": None}
    try:
        head = subprocess.run(["git", "-C", str(path.parent), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
        if head.returncode != 0:
            return out
        status = subprocess.run(["git", "-C", str(path.parent), "status", "--porcelain", "--",
                                 path.name], capture_output=True, text=True,
                                timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return out
    out["git_commit"] = head.stdout.strip()
    if status.returncode == 0:
        out["git_dirty"] = bool(status.stdout.strip())
    return out


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The complete records, and one problem per line that is not one (a torn final line
    after a crash, or a line that is not a JSON object)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    return parse_lines(data, str(path))


def parse_lines(data: bytes, source: str, first_line: int = 1) -> tuple[
        list[dict[str, Any]], list[str]]:
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the final write was torn
    for number, raw in enumerate(lines, first_line):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            problems.append(f"{source}: line {number}: not a JSON object; skipped")
    if tail:
        problems.append(f"{source}: line {first_line + len(lines)}: no newline at the end "
                        "(torn by a crash while writing); skipped")
    return records, problems


def last_accepted(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return None
    if size > _TAIL_BYTES:
        data = data[data.find(b"\n") + 1:]  # drop the partial first line of the tail
    records, _ = parse_lines(data, str(path))
    accepted = [r for r in records if r.get("event") == "accepted"]
    return accepted[-1] if accepted else None


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def snapshot_dir(log: Path) -> Path:
    return log.with_name(log.name.removesuffix(".jsonl") + ".snapshots")


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.snapshots = snapshot_dir(path)
        self.clock = utc_now  # replaced in tests that need a fixed period
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if _ends_torn(path):
            # Close off a line torn by a crash, so it stays one flagged line of its own
            # instead of swallowing the next record.
            os.write(self._fd, b"\n")
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)

    def append(self, record: dict[str, Any]) -> None:
        """Write one line with one ``os.write`` and fsync it (a short write, which regular
        files only give on a full disk or a signal, is finished before the fsync)."""
        data = orjson.dumps(record) + b"\n"
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        os.fsync(self._fd)

    def accepted(self, config: Config, source: Path, trigger: str,
                 previous: Config | None = None) -> dict[str, Any]:
        flat = flatten(config)
        previous_digest: str | None
        changes: list[dict[str, Scalar]] | None
        if previous is not None:
            previous_digest = previous.digest
            changes = [c.as_json() for c in diff_flat(flatten(previous), flat)]
        else:
            # A start: the previous process's config is the last one this log accepted.
            last = last_accepted(self.path)
            previous_digest = last.get("digest") if last else None
            snapshot = load_snapshot(self.path, previous_digest) if previous_digest else None
            old_flat = snapshot["settings"] if snapshot else None
            changes = (None if old_flat is None
                       else [c.as_json() for c in diff_flat(old_flat, flat)])
        self._keep_snapshot(config, flat)
        record = {"time": self.clock(), "event": "accepted", "trigger": trigger,
                  "digest": config.digest, "previous_digest": previous_digest,
                  "changes": changes, "source": git_source(source)}
        self.append(record)
        return record

    def refused(self, reason: str, source: Path, in_force: Config,
                refused_digest: str | None = None) -> dict[str, Any]:
        record = {"time": self.clock(), "event": "refused", "trigger": "reload",
                  "reason": reason, "in_force": in_force.digest,
                  "refused_digest": refused_digest, "source": git_source(source)}
        self.append(record)
        return record

    def _keep_snapshot(self, config: Config, flat: dict[str, Scalar]) -> None:
        target = self.snapshots / f"{config.digest}.json"
        if target.exists():
            return
        self.snapshots.mkdir(parents=True, exist_ok=True)
        snapshot = {"digest": config.digest, "settings": flat, "files": _config_texts(config)}
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as handle:
            handle.write(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)  # readers see the whole snapshot or none


def _config_texts(config: Config) -> dict[str, str] | None:
    """The files as they read now, so the version can be replayed later; the reader checks
    the digest, since a file may have been edited again since it was parsed."""
    thresholds = Path(config.source)
    try:
        text = thresholds.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        name = data.get("policy_areas") if isinstance(data, dict) else None
        taxonomy = thresholds.parent / (name if isinstance(name, str) else TAXONOMY_FILE)
        return {"thresholds": text, "taxonomy": taxonomy.read_text(encoding="utf-8")}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def load_snapshot(log: Path, digest: str) -> dict[str, Any] | None:
    """A config version as the audit log kept it: ``settings`` (flattened) and ``files``
    (the YAML texts, or None)."""
    try:
        data = orjson.loads((snapshot_dir(log) / f"{digest}.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("settings"), dict) else None
