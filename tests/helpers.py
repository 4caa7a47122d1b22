"""Engine test helpers: small configs built in memory, events as dicts, engine runs.

Paths, ports and polling are in tests/support.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

import orjson

from signals.config import Config, parse_taxonomy, parse_thresholds
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.records import Episode, SignalRow

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)

TAXONOMY: dict[str, Any] = {
    "version": 1,
    "areas": {
        a: {"name": a.replace("_", " ").title(), "owner": "team-" + a.split("_")[0],
            "runbook_url": f"https://runbooks.example.com/{a}"}
        for a in ("youth_safety", "adult_nudity", "body_image")
    },
}


def make_config(defaults: dict[str, dict[str, Any]], areas: dict[str, Any] | None = None,
                lateness: str = "60s", markets: Iterable[str] = ()) -> Config:
    taxonomy = parse_taxonomy(TAXONOMY)
    data = {"version": 1, "engine": {"allowed_lateness": lateness, "markets": list(markets)},
            "defaults": defaults, "areas": areas or {}}
    return parse_thresholds(data, taxonomy, "test-thresholds.yaml")


def stamp(seconds: float) -> str:
    t = T0 + dt.timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_EVENT_NUMBERS = itertools.count(1)


def ev(kind: str, at: float, area: str = "youth_safety", eid: str | None = None,
       **fields: Any) -> dict[str, Any]:
    """An event dict `at` seconds after T0 (ids are unique unless given)."""
    number = next(_EVENT_NUMBERS)  # drawn even when ``eid`` is given, as ids always were
    base: dict[str, Any] = {"event_id": eid or f"e{number}", "type": kind,
                            "occurred_at": stamp(at), "policy_area": area}
    if kind == "report":
        base["reporter"] = "user"
    elif kind == "decision":
        base.update(verdict="non_violating", detection="human")
    elif kind == "appeal":
        base.update(decision_id="d1", stage="filed")
    base.update(fields)
    return base


def line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def run_engine(config: Config, events: Iterable[dict[str, Any]]) -> tuple[
        list[SignalRow], list[Episode], Engine]:
    engine = Engine(config)
    rows: list[SignalRow] = []
    for e in events:
        decoded = decode_event(line(e))
        assert not isinstance(decoded, Rejected), decoded
        engine.ingest.ingest(decoded)
        rows.extend(engine.evaluator.drain_rows())
    engine.flush()
    rows.extend(engine.evaluator.drain_rows())
    return rows, list(engine.evaluator.episodes), engine
