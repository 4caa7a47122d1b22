"""The config audit log: what each line says, and that a crash never leaves a torn record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from streams.config_files import ConfigWatcher, load_config
from streams.governance.audit_log import AuditLog, read_log
from tests.helpers import TAXONOMY
from tests.support import REPO

GOOD = {"version": 1, "defaults": {"minor_exposure": {"window": "5m", "warn": 8,
                                                       "critical": 15}},
        "areas": {"youth_safety": {"minor_exposure": {"critical": 10}}}}


def write_config(directory: Path, thresholds: dict) -> Path:  # type: ignore[type-arg]
    (directory / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    path = directory / "thresholds.yaml"
    path.write_text(yaml.safe_dump(thresholds))
    bump_mtime(path)
    return path


def bump_mtime(path: Path) -> None:
    # A distinct mtime without sleeping: coarse file-system clocks would hide a rewrite.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_start_reload_and_refusals_each_append_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, GOOD)
    log = tmp_path / "audit" / "config.jsonl"
    first = load_config(path)
    watcher = ConfigWatcher(path, first, audit_log=log)

    lowered = {**GOOD, "areas": {"youth_safety": {"minor_exposure": {"critical": 8}}}}
    path.write_text(yaml.safe_dump(lowered))
    bump_mtime(path)
    new, refused = watcher.poll()
    assert refused is None and new is not None
    watcher.current = new  # the driver adopts it: that is when it is recorded

    path.write_text("version: 1\ndefaults: [oops\n")
    bump_mtime(path)
    assert watcher.poll()[1] is not None

    lateness = {**lowered, "engine": {"allowed_lateness": "90s"}}
    path.write_text(yaml.safe_dump(lateness))
    bump_mtime(path)
    new, refused = watcher.poll()
    assert new is None and refused is not None and "restart to apply" in refused

    records, problems = read_log(log)
    assert problems == []
    assert [(r["event"], r["trigger"]) for r in records] == [
        ("accepted", "start"), ("accepted", "reload"), ("refused", "reload"),
        ("refused", "reload")]
    start, reload, broken, blocked = records
    assert start["digest"] == first.digest and start["previous_digest"] is None
    assert start["changes"] is None  # nothing earlier to compare with
    assert reload["previous_digest"] == first.digest and reload["digest"] == new_digest(path,
                                                                                       lowered)
    assert reload["changes"] == [{"field": "areas.youth_safety.minor_exposure.critical",
                                  "old": 10.0, "new": 8.0}]
    assert "not valid YAML" in broken["reason"] and broken["in_force"] == reload["digest"]
    assert blocked["in_force"] == reload["digest"] and blocked["refused_digest"]
    for r in records:
        assert r["time"].endswith("Z") and "T" in r["time"]
        assert r["source"]["path"] == str(path.resolve())
        assert r["source"]["git_commit"] is None  # a temp dir is no git checkout


def new_digest(path: Path, thresholds: dict) -> str:  # type: ignore[type-arg]
    other = path.parent / "again"
    other.mkdir(exist_ok=True)
    return load_config(write_config(other, thresholds)).digest


def test_a_restart_names_the_previous_digest_and_what_changed(tmp_path: Path) -> None:
    path = write_config(tmp_path, GOOD)
    log = tmp_path / "config.jsonl"
    ConfigWatcher(path, load_config(path), audit_log=log).audit.close()  # type: ignore[union-attr]
    first = read_log(log)[0][0]["digest"]
    raised = {**GOOD, "defaults": {"minor_exposure": {"window": "5m", "warn": 9,
                                                       "critical": 15}}}
    write_config(tmp_path, raised)
    ConfigWatcher(path, load_config(path), audit_log=log)
    second = read_log(log)[0][1]
    assert second["trigger"] == "start" and second["previous_digest"] == first
    # the default reaches every area of the test taxonomy and `other`
    assert sorted(c["field"] for c in second["changes"]) == [
        f"areas.{a}.minor_exposure.warn"
        for a in ("adult_nudity", "body_image", "other", "youth_safety")]
    assert {(c["old"], c["new"]) for c in second["changes"]} == {(8.0, 9.0)}


def test_config_in_a_git_checkout_names_the_commit(tmp_path: Path) -> None:
    path = write_config(tmp_path, GOOD)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "config"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    log = tmp_path / "log" / "config.jsonl"
    ConfigWatcher(path, load_config(path), audit_log=log)
    source = read_log(log)[0][0]["source"]
    assert source == {"path": str(path.resolve()), "git_commit": head, "git_dirty": False}


def test_reader_flags_a_torn_final_line_and_keeps_the_rest(tmp_path: Path) -> None:
    log = tmp_path / "config.jsonl"
    log.write_bytes(b'{"event": "accepted", "digest": "aaa"}\n[1]\n{"event": "acc')
    records, problems = read_log(log)
    assert records == [{"event": "accepted", "digest": "aaa"}]
    assert len(problems) == 2
    assert "line 2: not a JSON object" in problems[0]
    assert "line 3: no newline at the end" in problems[1]


APPEND_LOOP = textwrap.dedent("""
    import sys
    from pathlib import Path
    from streams.governance.audit_log import AuditLog
    log = AuditLog(Path(sys.argv[1]))
    # big records: a kill has many chances to land inside a write
    pad = "x" * 6000
    i = 0
    print("ready", flush=True)
    while True:
        log.append({"event": "accepted", "n": i, "why": pad})
        i += 1
""")


def test_kill_9_in_a_tight_append_loop_leaves_only_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "config.jsonl"
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", APPEND_LOOP, str(log)], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(0.3 + 0.1 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    records, problems = read_log(log)
    assert len(records) > 10, "the loop barely ran"
    # at most one torn line per kill, each flagged, never merged with the next record
    assert len(problems) <= 3
    assert all("no newline" in p or "not a JSON object" in p for p in problems)
    numbers = []
    for record in records:
        assert record["why"] == "x" * 6000
        numbers.append(record["n"])
    # three runs, each counting from 0 without a gap or a repeat
    runs = [i for i, n in enumerate(numbers) if n == 0]
    assert len(runs) == 3 and runs[0] == 0
    for begin, end in zip(runs, [*runs[1:], len(numbers)], strict=True):
        assert numbers[begin:end] == list(range(end - begin))


def test_a_torn_line_is_closed_off_before_the_next_record(tmp_path: Path) -> None:
    log = tmp_path / "config.jsonl"
    log.write_bytes(b'{"event": "accepted", "n": 1}\n{"event": "acc')
    AuditLog(log).append({"event": "accepted", "n": 2})
    records, problems = read_log(log)
    assert [r["n"] for r in records] == [1, 2]
    assert problems == [f"{log}: line 2: not a JSON object; skipped"]


def test_append_uses_one_write_per_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    writes: list[bytes] = []
    real = os.write

    def spy(fd: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real(fd, data)

    log = AuditLog(tmp_path / "config.jsonl")
    monkeypatch.setattr(os, "write", spy)
    log.append({"event": "refused", "reason": "x" * 10_000})
    assert len(writes) == 1 and writes[0].endswith(b"\n") and writes[0].count(b"\n") == 1


def test_a_failed_write_mid_run_is_reported_and_the_config_still_applies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, GOOD)
    watcher = ConfigWatcher(path, load_config(path), audit_log=tmp_path / "config.jsonl")
    assert watcher.audit is not None
    watcher.audit.close()  # the next write fails (EBADF), as on a vanished disk
    lowered = {**GOOD, "areas": {"youth_safety": {"minor_exposure": {"critical": 8}}}}
    path.write_text(yaml.safe_dump(lowered))
    bump_mtime(path)
    new, _ = watcher.poll()
    assert new is not None
    watcher.current = new
    assert watcher.current is new
    assert "cannot write the audit log" in capsys.readouterr().err
