"""The chaos run's input and its truth: simulated traffic made hard on purpose.

``harmwatch simulate`` gives steady traffic; a chaos run also needs what breaks streaming
systems, so the file is edited, all from one seed:

- **quiet partitions**: every ``quiet_every_s`` seconds *of producing* (line index / rate),
  every appeal is cut out for ``quiet_len_s`` seconds, so the six appeals partitions get no
  message for longer than the workers' idle timeout;
- **late events**: a share of lines is moved later in the file by up to two times
  (allowed lateness + one pane) of event time, so some arrive behind their partition's
  watermark and some just in time;
- **duplicates**: a share of lines is copied to a later place, near (deduped) or far
  (late copies), on top of the simulator's own adjacent redeliveries.

The truth is ``harmwatch backtest --partitions N`` of the final file (the worker's
partitioned semantics: rows, episodes, counted/duplicates/late), plus an independent count
of the lines whose ``event_id`` was already seen earlier in the file.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.streaming.kafka_harness import read_jsonl
from tests.support import HARMWATCH, REPO

START = "2026-11-20T00:00:00+00:00"  # in the past, so no event is dated after its send time
LATENESS_S = 60 + 60  # allowed_lateness (config/thresholds.yaml) + one pane
EVENTS_PER_MINUTE = 1500  # the simulator's volume at --scale 1 (measured: 30,794 in 20 min)
APPEAL = b'"type":"appeal"'


@dataclass
class Truth:
    """What the workers must end up with."""

    lines: int
    rows: dict[tuple[Any, ...], dict[str, Any]]
    episodes: list[dict[str, Any]]
    counted: int
    duplicates: int
    late: int
    invalid: int
    repeated_ids: int  # lines whose event_id occurred earlier in the file (independent)
    edits: dict[str, int] = field(default_factory=dict)


def row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["policy_area"], row["market"] or "", row["signal"], row["window_start"],
            row["window_end"])


def _run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*HARMWATCH, *args], cwd=REPO, text=True, capture_output=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"harmwatch {args[0]} failed ({done.returncode}): "
                           f"{done.stderr[-2000:]}")
    return done


def simulate(out: Path, events: int, seed: int) -> None:
    """About ``events`` lines of traffic with two incidents (so alerts fire and resolve).

    Always an hour of event time, the volume scaled to fit: the shipped rules judge each
    area against its own last hour and cannot page while less than half of it is known, so
    the incidents start after 35 minutes.
    """
    scale = events / (EVENTS_PER_MINUTE * 60)
    minutes = 60
    _run("simulate", "--out", str(out), "--duration", f"{minutes}m", "--start", START,
         "--incidents", "2", "--incidents-after", "35m",
         "--scale", f"{scale:.3f}", "--duplicate-rate", "0.002", "--seed", str(seed))


def harden(raw: Path, out: Path, seed: int, rate: float, *, quiet_every_s: float = 25.0,
           quiet_len_s: float = 9.0, late_share: float = 0.003,
           dup_share: float = 0.002) -> dict[str, int]:
    """Write ``raw`` with quiet stretches, late lines and far duplicates to ``out``."""
    rng = random.Random(seed)
    lines = [ln for ln in raw.read_bytes().split(b"\n") if ln.strip()]
    first = json.loads(lines[0])["occurred_at"]
    last = json.loads(lines[-1])["occurred_at"]
    span_s = max(60.0, _seconds(last) - _seconds(first))
    per_event_s = len(lines) / span_s
    shift = int(2 * LATENESS_S * per_event_s)
    edits = {"cut_appeals": 0, "moved_late": 0, "copied": 0}
    kept: list[bytes] = []
    for i, line in enumerate(lines):
        t = i / rate
        if t % quiet_every_s >= quiet_every_s - quiet_len_s and APPEAL in line:
            edits["cut_appeals"] += 1
            continue
        kept.append(line)
    # (position, order, line): a moved line sorts after the lines already at its place.
    placed: list[tuple[int, int, bytes]] = []
    for i, line in enumerate(kept):
        u = rng.random()
        if u < late_share:
            placed.append((i + rng.randint(1, shift), 1, line))
            edits["moved_late"] += 1
            continue
        placed.append((i, 0, line))
        if u < late_share + dup_share:
            placed.append((i + rng.randint(1, shift), 1, line))
            edits["copied"] += 1
    placed.sort(key=lambda p: (p[0], p[1]))
    out.write_bytes(b"\n".join(p[2] for p in placed) + b"\n")
    return edits


def _seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


_COUNTS = re.compile(r"events: ([\d,]+) counted, ([\d,]+) duplicates, ([\d,]+) late, "
                     r"([\d,]+) invalid")


def truth(events: Path, partitions: int, work: Path, edits: dict[str, int]) -> Truth:
    """The backtest with the worker's partitioned semantics, and an independent id count."""
    t = _backtest(["--events", str(events), "--partitions", str(partitions)],
                  work / "backtest-signals.jsonl")
    seen: set[bytes] = set()
    for line in events.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        t.lines += 1
        eid = line.split(b'"event_id":"', 1)[1].split(b'"', 1)[0]
        if eid in seen:
            t.repeated_ids += 1
        seen.add(eid)
    t.edits = edits
    return t


def log_truth(broker: str, topic_prefix: str, work: Path, file_truth: Truth) -> Truth:
    """``backtest --from-kafka`` of the source topics after the run: the file's truth
    plus what only the logs hold (the workers' watermark records, each record's
    timestamp), so the workers' exact rows and counters."""
    t = _backtest(["--from-kafka", "--broker", broker, "--topic-prefix", topic_prefix],
                  work / "log-backtest-signals.jsonl")
    t.lines, t.repeated_ids, t.edits = (file_truth.lines, file_truth.repeated_ids,
                                        file_truth.edits)
    return t


def _backtest(source: list[str], signals: Path) -> Truth:
    done = _run("backtest", *source, "--format", "jsonl", "--signals-out", str(signals))
    episodes = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    text = _run("backtest", *source)
    match = _COUNTS.search(text.stdout + text.stderr)
    if match is None:
        raise RuntimeError("backtest printed no 'events: ... counted' line")
    counted, dups, late, invalid = (int(g.replace(",", "")) for g in match.groups())
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in read_jsonl(signals):
        rows[row_key(row)] = row
    return Truth(lines=0, rows=rows, episodes=episodes, counted=counted, duplicates=dups,
                 late=late, invalid=invalid, repeated_ids=0)
