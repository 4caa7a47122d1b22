"""Duplicate before late (issue #9): a copy's verdict never depends on when its pane closed.

A worker closes a quiet partition's panes with a watermark record whose place in the log
depends on wall time; the backtest has no such record. If lateness were judged before the
dedupe, a far copy of a counted event would be *late* behind such a record and a
*duplicate* without it (chaos seed 11). These tests pin the order and the rebuild that
makes it safe: every valid event's id is remembered, the generations turn on the source's
own events only.
"""

from __future__ import annotations

import random

import pytest

from signals.config import Config
from signals.events import Rejected, decode_event
from signals.ingest import Ingest
from signals.merge import SourcePartition
from streams.config_files import load_config
from tests.helpers import T0, ev, line
from tests.streaming.test_merge import _sim_lines

PANE = 60


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def _small() -> Config:
    config = load_config()
    assert config.pane_s == PANE and config.engine.allowed_lateness_s == 60
    return config


def _feed(ingest: Ingest, event: dict[str, object]) -> str:
    decoded = decode_event(line(event))
    assert not isinstance(decoded, Rejected), decoded
    return ingest.ingest(decoded)


@pytest.mark.parametrize("closed_from_outside", [False, True])
def test_a_copy_is_a_duplicate_whether_or_not_its_pane_closed(closed_from_outside: bool) -> None:
    ingest = Ingest(_small())
    assert _feed(ingest, ev("report", 5, eid="a")) == "counted"
    assert _feed(ingest, ev("report", 90, eid="b")) == "counted"
    t0 = T0.timestamp()
    if closed_from_outside:  # a watermark record: the panes at 0 s and 60 s close
        ingest.close_through(t0 + 2 * PANE)
        assert ingest.closed_until == t0 + 2 * PANE
    else:
        assert ingest.closed_until < t0 + PANE  # own watermark at 30 s: nothing closed yet
    assert _feed(ingest, ev("report", 5, eid="a")) == "duplicate"
    # A new id in that pane is late only where the pane has closed.
    assert _feed(ingest, ev("report", 10, eid="c")) == (
        "late" if closed_from_outside else "counted")
    # ... and remembered either way: its copy is a duplicate.
    assert _feed(ingest, ev("report", 10, eid="c")) == "duplicate"


def test_an_outside_watermark_does_not_turn_the_dedupe_generations() -> None:
    """Generations turn on the source's own event time: a watermark record jumping far
    ahead must not make the partition forget ids a backtest still remembers."""
    config = _small()
    moved, still = Ingest(config), Ingest(config)
    for ingest in (moved, still):
        _feed(ingest, ev("report", 5, eid="a"))
    moved.close_through(T0.timestamp() + 3600)  # an hour ahead: many generations' worth
    assert moved.rotations == still.rotations == 0
    assert moved.remembered_ids == still.remembered_ids == 1
    assert _feed(moved, ev("report", 5, eid="a")) == "duplicate"


def _id_and_time(raw: bytes) -> tuple[str, float] | None:
    event = decode_event(raw)
    return None if isinstance(event, Rejected) else (event.event_id,
                                                     event.occurred_at.timestamp())


def _log_with_copies(seed: int) -> list[bytes]:
    """40 simulated minutes (~520 messages a minute) in which 5 % of the messages come
    again up to 1,500 messages later: before and after their pane's close."""
    rng = random.Random(seed)
    out: list[bytes] = []
    pending: list[tuple[int, bytes]] = []
    for raw in _sim_lines(40, seed=seed):
        out.append(raw)
        if rng.random() < 0.05:
            pending.append((len(out) + rng.randint(1, 1500), raw))
        now = len(out)
        out.extend(raw for due, raw in pending if due <= now)
        pending = [p for p in pending if p[0] > now]
    return out


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_watermark_records_change_no_verdict(config: Config, seed: int) -> None:
    """The same log, with and without watermark records at random places. Each record
    closes what a group watermark may: the panes before the earliest first copy still to
    come (so no event that counts is made late). Counted, duplicates and late must agree,
    and the records must have closed panes that copies then fall into."""
    log_ = _log_with_copies(seed)
    decoded = [_id_and_time(raw) for raw in log_]
    first_at: dict[str, int] = {}
    for i, got in enumerate(decoded):
        if got is not None:
            first_at.setdefault(got[0], i)
    # The earliest event time among first copies from offset i on, computed backwards.
    floor_from = [float("inf")] * (len(log_) + 1)
    for i in range(len(log_) - 1, -1, -1):
        floor_from[i] = floor_from[i + 1]
        got = decoded[i]
        if got is not None and first_at[got[0]] == i:
            floor_from[i] = min(floor_from[i], got[1])

    plain = SourcePartition(config, "t.reports:0", config.areas)
    marked = SourcePartition(config, "t.reports:1", config.areas)
    tally: dict[tuple[str, str, str], int] = {}
    rng = random.Random(seed)
    offset = 0
    straddling = 0  # copies whose pane only the records closed: the order decides them
    for i, raw in enumerate(log_):
        if rng.random() < 0.05 and floor_from[i] != float("inf"):
            if marked.advance(offset, float(int(floor_from[i] // PANE) * PANE)):
                offset += 1
        got = decoded[i]
        if got is not None and first_at[got[0]] < i:
            pane = int(got[1] // PANE) * PANE
            straddling += plain.ingest.closed_until <= pane < marked.ingest.closed_until
        plain.feed(i, raw, tally)
        marked.feed(offset, raw, tally)
        offset += 1
    assert straddling >= 5, straddling
    assert plain.ingest.duplicates > 500
    assert (marked.ingest.counted, marked.ingest.duplicates, marked.ingest.late) == (
        plain.ingest.counted, plain.ingest.duplicates, plain.ingest.late)


def test_the_first_pane_start_is_t0() -> None:
    # The hand-written cases above assume T0 starts a pane.
    assert T0.timestamp() % PANE == 0
