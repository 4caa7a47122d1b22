"""A detector restored from its snapshot (through JSON) mid-stream continues exactly as one
that never stopped: same episodes, details and top tags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.threat_state import restore, to_state
from streams.config_files import load_config, load_threats
from tests.threats.threat_fixture import incidents, threat_lines

H = dt.timedelta(hours=1)


def _feed(engine: Engine, lines: list[bytes]) -> None:
    for raw in lines:
        event = decode_event(raw)
        if not isinstance(event, Rejected):
            engine.ingest.ingest(event)


def _as_dict_based(state: dict[str, Any]) -> dict[str, Any]:
    """The emerging-tag state as the dict-based version wrote it: the window's panes each
    with its tags counted more than once, and the filling block as a list of such panes
    (here one, holding the block's sum)."""
    def multi(tags: dict[str, int]) -> list[list[Any]]:
        return [[t, n] for t, n in tags.items() if n > 1]

    for st in state["emerging"]["state"].values():
        st["window"] = [[p, tags, multi(tags)] for p, tags in st["window"]]
        block = st["block"]
        st["block"] = [] if block is None else [[block, multi(block)]]
    return state


@pytest.mark.parametrize("written_by", ["this version", "the dict-based version"])
def test_restored_detector_continues_as_if_it_never_stopped(written_by: str) -> None:
    config, threats = load_config(), load_threats()
    lines = threat_lines(int(2.6 * 3600), incidents(emerging_at=1.2 * H,
                                                      concentration_at=1.3 * H,
                                                      drop_at=1.9 * H), seed=4)
    whole = Engine(config, threats)
    _feed(whole, lines)
    whole.flush()
    # Stop inside the emerging-tag incident, with episodes open and sketches full.
    cut = int(len(lines) * 0.55)
    first = Engine(config, threats)
    _feed(first, lines[:cut])
    assert first.threats is not None
    assert any(e.ended_at is None for e in first.threats.episodes)
    snapshot = msgspec.json.decode(msgspec.json.encode({
        "ingest": first.ingest.to_state(), "evaluator": first.evaluator.to_state(),
        "threats": to_state(first.threats)}))
    if written_by == "the dict-based version":
        assert any(st["window"] and st["block"]
                   for st in snapshot["threats"]["emerging"]["state"].values())
        _as_dict_based(snapshot["threats"])
    second = Engine(config, threats)
    second.ingest.restore(snapshot["ingest"])
    second.evaluator.restore(snapshot["evaluator"])
    assert second.threats is not None and whole.threats is not None
    restore(second.threats, snapshot["threats"])
    _feed(second, lines[cut:])
    second.flush()
    assert [msgspec.to_builtins(e) for e in second.threats.episodes] == [
        msgspec.to_builtins(e) for e in whole.threats.episodes]
    assert {e.signal for e in whole.threats.episodes} >= {
        "emerging_tag", "advertiser_concentration", "drop_automated"}
    for area in config.areas:
        assert second.threats.top_tags(area) == whole.threats.top_tags(area)
