"""A fixture period for the audit report: two config versions, a refused reload and a
history whose episodes are known by hand.

Thresholds: minor_exposure, tumbling 5m windows, critical 10 (v1); v2, accepted at 10:15,
lowers youth_safety to 5. youth_safety's windows from 10:00 hold 12, 1, 0, 7, 1, 12, 1
violating decisions with a minor audience; body_image's sixth window holds 11, its seventh 1.
Under the version in force when each starts, the episodes are:
  v1  youth_safety 10:05-10:10 (12 >= 10; 1 is under the clear level 8)
  v2  youth_safety 10:20-10:25 (7 >= 5), youth_safety 10:30-10:35 (12), body_image
      10:30-10:35 (11 >= 10, default level)
v2 would also have fired at 10:05, but v1 was in force then.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import yaml

from streams.config_files import ConfigWatcher, load_config
from streams.governance.audit_log import AuditLog
from tests.helpers import T0, TAXONOMY, ev, line

V1 = {"version": 1, "defaults": {"minor_exposure": {"window": "5m", "critical": 10,
                                                     "for": "0s"}}}
V2 = {**V1, "areas": {"youth_safety": {"minor_exposure": {"critical": 5}}}}
CONTROLS = """\
version: 1
controls:
  youth_safety:
    minor_exposure:
      risk: protection_of_minors
      owner: youth-safety-policy
      reference: RA-2026 section 4.2
  body_image:
    default: {risk: wellbeing, owner: wellbeing-policy}
"""
YOUTH = [12, 1, 0, 7, 1, 12, 1]
BODY = [0, 0, 0, 0, 0, 11, 1]
PERIOD = ("2026-11-24T09:00:00Z", "2026-11-24T11:00:00Z")


def at(minutes: int) -> str:
    t = T0 + dt.timedelta(minutes=minutes)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _touch(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def build(tmp: Path) -> dict[str, Path]:
    config = tmp / "config"
    config.mkdir()
    (config / "policy_areas.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (config / "controls.yaml").write_text(CONTROLS)
    thresholds = config / "thresholds.yaml"
    thresholds.write_text(yaml.safe_dump(V1))
    log = tmp / "audit" / "config.jsonl"
    times = iter([at(-60), at(15), at(20)])
    audit = AuditLog(log)
    audit.clock = lambda: next(times)  # the period's wall-clock times, fixed
    watcher = ConfigWatcher(thresholds, load_config(thresholds), audit_log=audit)
    thresholds.write_text(yaml.safe_dump(V2))
    _touch(thresholds)
    new, refused = watcher.poll()
    assert new is not None and refused is None
    watcher.current = new
    thresholds.write_text("version: 1\ndefaults: {minor_exposure: {window: 5 min}}\n")
    _touch(thresholds)
    assert watcher.poll()[1] is not None
    thresholds.write_text(yaml.safe_dump(V2))  # the good file back, as in force

    events = []
    for w, (youth, body) in enumerate(zip(YOUTH, BODY, strict=True)):
        for i in range(youth):
            events.append(ev("decision", w * 300 + 5 + i, "youth_safety", verdict="violating",
                             action="remove", minor_audience=True))
        for i in range(body):
            events.append(ev("decision", w * 300 + 7 + i, "body_image", verdict="violating",
                             action="remove", minor_audience=True))
    events.sort(key=lambda e: e["occurred_at"])
    history = tmp / "history.jsonl"
    history.write_bytes(b"\n".join(line(e) for e in events) + b"\n")
    return {"thresholds": thresholds, "log": log, "events": history}
