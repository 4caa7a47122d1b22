"""Worker equals backtest for the emergent-threat alerts: the partitioned path (one ingest per
source partition, pane messages through the wire format, a merge per area) gives exactly the
single engine's episodes, details and top tags, on traffic with tens of thousands of tags.

The merge is exact for the pane counts (per-pane tag and advertiser counts are summed, not
sketched, across partitions) and each area's sketches are then fed the same merged panes
in the same order, so the sketches themselves are identical.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib

import msgspec
import pytest

from signals.config import Config
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.local_merge import LocalMerge
from signals.records import Episode
from signals.threats_config import ThreatsConfig
from streams.config_files import load_config, load_threats
from tests.threats.threat_fixture import incidents, threat_lines

TOPICS = {"decision": "t.decisions", "appeal": "t.appeals", "report": "t.reports"}
H = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


@pytest.fixture(scope="module")
def threats() -> ThreatsConfig:
    return load_threats()


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    planted = incidents(emerging_at=0.9 * H, concentration_at=1.2 * H, drop_at=2.3 * H)
    return threat_lines(int(2.9 * 3600), planted, seed=8, duplicate_rate=0.01)


def _single(config: Config, threats: ThreatsConfig, lines: list[bytes]) -> Engine:
    engine = Engine(config, threats)
    for raw in lines:
        event = decode_event(raw)
        if not isinstance(event, Rejected):
            engine.ingest.ingest(event)
    engine.flush()
    return engine


def _partitioned(config: Config, threats: ThreatsConfig, lines: list[bytes], partitions: int,
                 seed: int) -> LocalMerge:
    per: dict[str, list[bytes]] = {f"{t}:{p}": [] for t in TOPICS.values()
                                   for p in range(partitions)}
    newest = 0.0
    for raw in lines:
        event = decode_event(raw)
        assert not isinstance(event, Rejected)
        newest = max(newest, event.occurred_at.timestamp())
        topic = TOPICS[type(event).__name__.lower()]
        per[f"{topic}:{zlib.crc32(event.event_id.encode()) % partitions}"].append(raw)
    merge = LocalMerge(config, list(per), threats=threats)
    cursors = dict.fromkeys(per, 0)
    rng = random.Random(seed)
    live = [s for s in per if per[s]]
    while live:  # a random interleaving that keeps each partition's own order
        src = rng.choice(live)
        for _ in range(rng.randint(1, 2000)):
            i = cursors[src]
            if i == len(per[src]):
                live.remove(src)
                break
            merge.feed(src, i, per[src][i])
            cursors[src] = i + 1
    merge.watermark((int(newest // config.pane_s) + 1) * config.pane_s)
    return merge


def _rows(episodes: list[Episode]) -> list[dict[str, object]]:
    return sorted((msgspec.to_builtins(e) for e in episodes),
                  key=lambda e: (e["started_at"], e["policy_area"], e["signal"], e["detail"]))


@pytest.mark.parametrize("partitions,seed", [(3, 1), (5, 2)])
def test_partitioned_threat_alerts_equal_the_single_engine(
        config: Config, threats: ThreatsConfig, lines: list[bytes], partitions: int,
        seed: int) -> None:
    engine = _single(config, threats, lines)
    assert engine.threats is not None
    single = engine.threats.episodes
    # The data is what the claim is about: many tags, and all three kinds alerted.
    distinct = {t for raw in lines for t in msgspec.json.decode(raw).get("tags", ())}
    assert len(distinct) > 30_000
    assert {e.signal for e in single} >= {"emerging_tag", "advertiser_concentration",
                                          "drop_automated"}
    merge = _partitioned(config, threats, lines, partitions, seed)
    merged: list[Episode] = []
    for area_merge in merge.merges.values():
        assert area_merge.threats is not None and area_merge.threats.late_panes == 0
        merged.extend(area_merge.threats.episodes)
    assert _rows(merged) == _rows(single)
    for area, area_merge in merge.merges.items():
        assert area_merge.threats is not None
        assert area_merge.threats.top_tags(area) == engine.threats.top_tags(area)
