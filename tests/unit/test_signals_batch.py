"""Every signal against a batch recomputation written independently from the raw events."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from typing import Any

import pytest

from signals.records import SignalRow
from tests.helpers import T0, ev, make_config, run_engine

AREAS = ("youth_safety", "adult_nudity", "body_image", "not_in_taxonomy")


def random_events(seed: int, n: int, span_s: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(("report", "decision", "decision", "appeal"))
        at = rng.uniform(0, span_s)
        fields: dict[str, Any] = {"market": rng.choice(("DE", "FR", "IT"))}
        if kind == "report":
            fields["reporter"] = rng.choice(("user", "regulator", "trusted_flagger",
                                             "advertiser", "employee"))
        elif kind == "decision":
            fields["verdict"] = rng.choice(("violating", "non_violating", "escalated"))
            fields["action"] = rng.choice(("none", "remove", "restrict", "reject_ad"))
            fields["minor_audience"] = rng.random() < 0.3
            if rng.random() < 0.6:
                waited = rng.expovariate(1 / 900)
                fields["reported_at"] = (T0 + dt.timedelta(seconds=at - waited)).isoformat()
        else:
            stage = rng.choice(("filed", "decided"))
            fields["stage"] = stage
            if stage == "decided":
                fields["outcome"] = rng.choice(("upheld", "overturned"))
        out.append(ev(kind, at, rng.choice(AREAS), eid=f"r{seed}-{i}", **fields))
    return out


def _t(e: dict[str, Any], field: str = "occurred_at") -> float:
    return dt.datetime.fromisoformat(e[field].replace("Z", "+00:00")).timestamp()


def reference(events: list[dict[str, Any]], area: str, market: str | None,
              start: float, end: float) -> dict[str, tuple[float | None, int]]:
    """Straight from SIGNALS.md, on raw dicts; shares no code with the engine."""
    mine = [e for e in events
            if (e["policy_area"] if e["policy_area"] in AREAS[:3] else "other") == area
            and (market is None or e.get("market") == market)
            and start <= _t(e) < end]
    reports = [e for e in mine if e["type"] == "report"]
    decisions = [e for e in mine if e["type"] == "decision"]
    appeals = [e for e in mine if e["type"] == "appeal"]

    def ratio(num: int, den: int) -> tuple[float | None, int]:
        return (num / den if den else None), den

    viol = sum(e["verdict"] == "violating" for e in decisions)
    clear = sum(e["verdict"] in ("violating", "non_violating") for e in decisions)
    waits = sorted(max(0.0, _t(e) - _t(e, "reported_at")) for e in decisions
                   if "reported_at" in e)
    regulator = sum(e["reporter"] in ("regulator", "trusted_flagger") for e in reports)
    minors = sum(e["verdict"] == "violating" and e["minor_audience"] for e in decisions)
    decided = [e for e in appeals if e["stage"] == "decided"]
    return {
        "report_volume": (len(reports), len(reports)),
        "regulator_reports": (regulator, regulator),
        "violation_rate": ratio(viol, clear),
        "escalation_rate": ratio(sum(e["verdict"] == "escalated" for e in decisions),
                                 len(decisions)),
        "minor_exposure": (minors, minors),
        "appeal_rate": ratio(sum(e["stage"] == "filed" for e in appeals),
                             sum(e["action"] != "none" for e in decisions)),
        "overturn_rate": ratio(sum(e["outcome"] == "overturned" for e in decided), len(decided)),
        "review_latency_p95": ((waits[math.ceil(0.95 * len(waits)) - 1], len(waits))
                               if waits else (None, 0)),
    }


SIGNALS = ("report_volume", "regulator_reports", "violation_rate", "escalation_rate",
           "minor_exposure", "appeal_rate", "overturn_rate", "review_latency_p95")


@pytest.mark.parametrize(("window", "step"), [("5m", None), ("10m", "2m"), ("3m", "1m")])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_core_signals_match_batch_recomputation(seed: int, window: str,
                                                step: str | None) -> None:
    spec: dict[str, Any] = {"window": window, "warn": 1e9}
    if step:
        spec["step"] = step
    config = make_config({s: dict(spec) for s in SIGNALS}, markets=("DE",))
    events = random_events(seed, 3000, 3600)
    events.sort(key=_t)  # in order: nothing is late, so the batch view is exact
    rows, _, engine = run_engine(config, events)
    assert engine.ingest.late == 0 and engine.ingest.counted == len(events)

    by_window: dict[tuple[str, str | None, dt.datetime], dict[str, SignalRow]] = defaultdict(dict)
    for row in rows:
        by_window[(row.policy_area, row.market, row.window_start)][row.signal] = row
    assert by_window, "no windows were emitted"
    w_s = int(window[:-1]) * 60
    s_s = int(step[:-1]) * 60 if step else w_s
    # Every aligned window from the first pane to the last is emitted for every area.
    starts = {start for (_, _, start) in by_window}
    first, last = min(starts).timestamp(), max(starts).timestamp()
    assert len(starts) == int((last - first) // s_s) + 1
    for area in ("youth_safety", "adult_nudity", "body_image", "other"):
        for market in (None, "DE"):
            for start in starts:
                got = by_window.get((area, market, start), {})
                want = reference(events, area, market, start.timestamp(),
                                 start.timestamp() + w_s)
                for signal in SIGNALS:
                    value, n = want[signal]
                    emitted = got.get(signal)
                    if value is None:
                        assert emitted is None, (area, market, start, signal)
                    else:
                        assert emitted is not None, (area, market, start, signal)
                        assert emitted.value == pytest.approx(value), (area, start, signal)
                        assert emitted.n == n
                        assert (emitted.window_end - emitted.window_start
                                == dt.timedelta(seconds=w_s))


def test_every_event_is_inside_an_emitted_window() -> None:
    config = make_config({"report_volume": {"window": "5m", "warn": 1e9}})
    events = [e for e in random_events(9, 500, 1800) if e["type"] == "report"]
    rows, _, _ = run_engine(config, sorted(events, key=_t))
    counts = [r.value for r in rows if r.signal == "report_volume"]
    assert None not in counts  # a count is never undefined
    assert sum(c for c in counts if c is not None) == len(events)


def test_report_surge_against_trailing_baseline() -> None:
    config = make_config({"report_surge": {"window": "1m", "baseline": "5m", "warn": 2.0,
                                           "min_samples": 1}})
    per_minute = [10, 10, 10, 10, 10, 30, 10]
    events = [ev("report", m * 60 + i * 0.5) for m, k in enumerate(per_minute)
              for i in range(k)]
    rows, episodes, _ = run_engine(config, events)
    surge = [(r.window_start.minute, r.value) for r in rows
             if r.policy_area == "youth_safety" and r.signal == "report_surge"]
    # No value until five earlier windows exist; then volume over their mean.
    assert surge == [(5, 3.0), (6, pytest.approx(10 / 14))]
    assert [(e.signal, e.severity, e.started_at.minute, e.ended_at and e.ended_at.minute)
            for e in episodes] == [("report_surge", "warn", 6, 7)]
