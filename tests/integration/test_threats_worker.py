"""The emergent-threat detectors in the worker against a real Kafka broker: its episodes
equal ``harmwatch backtest --partitions N`` of the same file (threats on in both, from
``config/threats.yaml`` beside the thresholds file), also across a restart, where the
detectors continue from the state stored in each area's merge snapshot."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from streams.sources.threat_traffic import EMERGING_TAG
from tests.streaming.kafka_harness import Env, Worker, read_jsonl, sorted_episodes, wait_until

pytestmark = pytest.mark.integration
SNAPSHOT_WAIT_S = 3.0  # the worker snapshots changed state every half second


@pytest.fixture(scope="module")
def threat_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 minutes at half rate with tags and advertisers; an emerging tag planted at 50 m
    (after the 30 m of baseline the detector waits for) and a concentration at 65 m."""
    tmp = tmp_path_factory.mktemp("threat-events")
    env = Env("127.0.0.1:1", tmp)
    out = tmp / "events.jsonl"
    done = env.run("simulate", "--out", str(out), "--duration", "80m", "--incidents", "0",
                   "--threats", "--incidents-after", "50m", "--scale", "0.5",
                   "--duplicate-rate", "0")
    assert done.returncode == 0, done.stderr
    return out


def _partitioned_backtest(env: Env, events: Path) -> list[dict[str, Any]]:
    done = env.run("backtest", "--events", str(events), "--format", "jsonl",
                   "--partitions", str(env.partitions))
    assert done.returncode == 0, done.stderr
    episodes = [json.loads(x) for x in done.stdout.splitlines() if x.strip()]
    # The worker's episode files name the config too: compared with the rest.
    assert all(len(e["config_digest"]) == 12 for e in episodes)
    return sorted_episodes(episodes)


def _threat_episodes(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in episodes if e.get("detail")]


def _episodes(w: Worker) -> list[dict[str, Any]]:
    assert w.alive(), w.stderr[-3000:]
    return sorted_episodes(read_jsonl(w.episodes)) if w.episodes.exists() else []


def test_worker_threat_episodes_equal_the_partitioned_backtest(
        env: Env, threat_events: Path, workers: list[Worker]) -> None:
    expected = _partitioned_backtest(env, threat_events)
    threats = _threat_episodes(expected)
    signals = {e["signal"] for e in threats}
    assert {"emerging_tag", "advertiser_concentration"} <= signals
    assert any(EMERGING_TAG in e["detail"] for e in threats)
    assert env.run("topics", "create").returncode == 0
    env.produce(threat_events, "--final-watermark")
    w = Worker(env, "w1")
    workers.append(w.start())
    got = wait_until(lambda: (eps := _episodes(w)) == expected and eps, 240,
                     "the worker's episodes to equal backtest --partitions")
    assert _threat_episodes(got) == threats
    # --episodes-log: every episode once when it closes, the detectors' included.
    closed = [e for e in expected if e["ended_at"] is not None]
    assert any(e.get("detail") for e in closed)  # a closed threat episode, or this is vacuous
    logged = wait_until(lambda: (eps := sorted_episodes(read_jsonl(w.episodes_log)))
                        == closed and eps, 60, "every closed episode in --episodes-log")
    assert len(logged) == len(closed)


def test_a_restarted_worker_continues_the_detectors_from_its_snapshot(
        env: Env, threat_events: Path, workers: list[Worker], tmp_path: Path) -> None:
    """The first worker sees the first 55 minutes (the baseline and the emerging tag's
    start) and stops; the second restores the merges' snapshots, detector state included,
    and sees the rest. Without the detector state the second would relearn the baseline
    and miss or misdate the episodes."""
    expected = _partitioned_backtest(env, threat_events)
    lines = [x for x in threat_events.read_bytes().splitlines() if x.strip()]
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    cut = int(len(lines) * 55 / 80)
    first.write_bytes(b"\n".join(lines[:cut]) + b"\n")
    rest.write_bytes(b"\n".join(lines[cut:]) + b"\n")
    assert env.run("topics", "create").returncode == 0
    env.produce(first)
    w1 = Worker(env, "w1")
    workers.append(w1.start())
    wait_until(lambda: w1.signals.exists() and len(read_jsonl(w1.signals)) > 1000, 240,
               "the first worker to close windows")
    time.sleep(SNAPSHOT_WAIT_S)  # past the worker's snapshot interval
    w1.stop(timeout=30)
    env.produce(rest, "--final-watermark")
    w2 = Worker(env, "w2")
    workers.append(w2.start())
    got = wait_until(lambda: (eps := _episodes(w2)) == expected and eps, 240,
                     "the restarted worker's episodes to equal backtest --partitions")
    assert _threat_episodes(got) == _threat_episodes(expected)
