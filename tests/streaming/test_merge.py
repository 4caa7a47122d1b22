"""The partitioned path (one Ingest per source partition, merge per area) equals one Engine."""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
import zlib
from pathlib import Path

import msgspec
import pytest

from signals.config import Config
from signals.engine import Engine
from signals.events import Rejected, decode_event
from signals.local_merge import LocalMerge
from signals.merge import (
    AreaMerge,
    PaneMessage,
    SourcePartition,
    decode,
    encode,
)
from signals.records import Episode, SignalRow
from streams.config_files import load_config
from streams.sources.simulator import Simulator, schedule

TOPICS = {"decision": "t.decisions", "appeal": "t.appeals", "report": "t.reports"}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config()


def _sim_lines(minutes: int, seed: int = 3) -> list[bytes]:
    start = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    sim = Simulator(start=start, seed=seed, incidents=schedule(start + dt.timedelta(minutes=20),
                                                               3),
                    duplicate_rate=0.01, invalid_rate=0.002, scale=0.5)
    return [line for _, line in sim.lines(minutes * 60)]


def _backtest(config: Config, lines: list[bytes]) -> tuple[list[SignalRow], list[Episode],
                                                           Engine]:
    engine = Engine(config)
    rows: list[SignalRow] = []
    for raw in lines:
        event = decode_event(raw)
        if not isinstance(event, Rejected):
            engine.ingest.ingest(event)
        rows.extend(engine.evaluator.drain_rows())
    engine.flush()
    rows.extend(engine.evaluator.drain_rows())
    return rows, list(engine.evaluator.episodes), engine


def _route(lines: list[bytes], partitions: int) -> dict[str, list[bytes]]:
    """As the producer does: topic by type, partition by a hash of event_id."""
    per: dict[str, list[bytes]] = {f"{t}:{p}": [] for t in TOPICS.values()
                                   for p in range(partitions)}
    for raw in lines:
        event = decode_event(raw)
        if isinstance(event, Rejected):
            per[f"{TOPICS['decision']}:0"].append(raw)
            continue
        topic = TOPICS[type(event).__name__.lower()]
        per[f"{topic}:{zlib.crc32(event.event_id.encode()) % partitions}"].append(raw)
    return per


def _partitioned(config: Config, lines: list[bytes], partitions: int,
                 seed: int) -> tuple[list[SignalRow], list[Episode]]:
    per = _route(lines, partitions)
    merge = LocalMerge(config, list(per))
    cursors = dict.fromkeys(per, 0)
    rng = random.Random(seed)
    live = [s for s in per if per[s]]
    while live:  # a random interleaving that keeps each partition's own order
        src = rng.choice(live)
        for _ in range(rng.randint(1, 400)):
            i = cursors[src]
            if i == len(per[src]):
                live.remove(src)
                break
            merge.feed(src, i, per[src][i])
            cursors[src] = i + 1
    newest = max(e.occurred_at.timestamp() for raw in lines
                 if not isinstance(e := decode_event(raw), Rejected))
    merge.watermark((int(newest // config.pane_s) + 1) * config.pane_s)
    rows = [r for m in merge.merges.values() for r in m.evaluator.drain_rows()]
    episodes = [e for m in merge.merges.values() for e in m.evaluator.episodes]
    return rows, episodes


def _key(r: SignalRow) -> tuple[object, ...]:
    return (r.policy_area, r.market or "", r.signal, r.window_end)


def _ekey(e: Episode) -> tuple[object, ...]:
    return (e.started_at, e.policy_area, e.market or "", e.signal, e.severity)


@pytest.mark.parametrize("partitions,seed", [(1, 1), (6, 2), (4, 3)])
def test_partitioned_merge_equals_single_engine(config: Config, partitions: int,
                                                seed: int) -> None:
    lines = _sim_lines(50)
    rows, episodes, engine = _backtest(config, lines)
    assert engine.ingest.late == 0 and engine.ingest.duplicates > 0 and len(rows) > 1000
    assert episodes, "the incidents should page"
    got_rows, got_episodes = _partitioned(config, lines, partitions, seed)
    assert sorted(got_rows, key=_key) == sorted(rows, key=_key)
    assert sorted(got_episodes, key=_ekey) == sorted(episodes, key=_ekey)


def test_no_close_until_every_source_passed(config: Config) -> None:
    pane = config.pane_s
    merge = AreaMerge(config, "youth_safety", ["a:0", "a:1"])
    merge.apply(0, PaneMessage("a:0", to=10 * pane, first=0))
    merge.advance()
    assert merge.evaluator.closed_until is None  # a:1 never spoke
    merge.apply(1, PaneMessage("a:1", to=3 * pane, first=pane))
    merge.advance()
    assert merge.evaluator.closed_until == 3 * pane
    # A redelivered (already applied) offset and a stale frontier change nothing.
    assert not merge.apply(1, PaneMessage("a:1", to=9 * pane))
    assert not merge.apply(2, PaneMessage("a:1", to=2 * pane))
    merge.advance()
    assert merge.evaluator.closed_until == 3 * pane


def test_group_watermark_follows_the_active_sources_and_never_skips_one(
        config: Config) -> None:
    pane = config.pane_s
    merge = AreaMerge(config, "youth_safety", ["a:0", "a:1", "a:2"])
    merge.apply(0, PaneMessage("a:0", to=10 * pane, first=0))
    assert merge.group_watermark("a:1") is None  # a:2 is active and has said nothing
    merge.apply(1, PaneMessage("a:2", to=4 * pane, first=0))
    assert merge.group_watermark("a:1") == 4 * pane
    merge.apply(2, PaneMessage("a:1", idle=True))
    merge.advance()
    assert merge.evaluator.closed_until is None  # a:1 has closed nothing itself
    # a:2 goes quiet too: neither waits for the other's watermark.
    merge.apply(3, PaneMessage("a:2", to=4 * pane, idle=True))
    assert merge.group_watermark("a:1") == merge.group_watermark("a:2") == 10 * pane
    # Their watermark records move their own frontiers; only then does the merge move.
    merge.apply(4, PaneMessage("a:1", to=10 * pane, idle=True))
    merge.advance()
    assert merge.evaluator.closed_until == 4 * pane
    merge.apply(5, PaneMessage("a:2", to=12 * pane))  # data again: active
    merge.advance()
    assert merge.evaluator.closed_until == 10 * pane
    assert merge.idle == {"a:1"} and merge.group_watermark("a:1") == 10 * pane


def test_source_snapshot_skips_redelivered_offsets(config: Config) -> None:
    lines = _sim_lines(3)
    part = SourcePartition(config, "t.reports:0", config.areas)
    tally: dict[tuple[str, str, str], int] = {}
    for i, raw in enumerate(lines[:500]):
        part.feed(i, raw, tally)
    part.take_messages()
    state = msgspec.json.decode(msgspec.json.encode(part.to_state()))
    again = SourcePartition(config, "t.reports:0", config.areas)
    again.restore(state)
    assert again.feed(10, lines[10], tally) is None  # covered by the snapshot
    assert again.ingest.counted == part.ingest.counted
    assert again.feed(500, lines[500], tally) is not None


def test_pane_message_round_trip() -> None:
    msg = PaneMessage("t:1", to=120.0, first=60, panes={"60": {"a": {"reports": 2}}})
    assert decode(encode(msg)) == msg
    assert decode(encode(PaneMessage("t:2", idle=True))).idle


def test_area_snapshot_round_trip(config: Config, tmp_path: Path) -> None:
    lines = _sim_lines(12)
    per = _route(lines, 2)
    merge = LocalMerge(config, list(per))
    for src, raws in per.items():
        for i, raw in enumerate(raws):
            merge.feed(src, i, raw)
    area = merge.merges["youth_safety"]
    state = msgspec.json.decode(msgspec.json.encode(area.to_state()))
    copy = AreaMerge(config, "youth_safety", list(per))
    copy.restore(state)
    assert copy.to_state() == state
    assert copy.evaluator.closed_until == area.evaluator.closed_until


def test_source_partition_dead_letters_events_dated_far_ahead(config: Config) -> None:
    part = SourcePartition(config, "t.reports:0", config.areas, max_future_s=600)
    future = (b'{"event_id": "f1", "type": "report", "occurred_at": "2999-01-01T00:00:00Z",'
              b' "policy_area": "youth_safety", "reporter": "user"}')
    tally: dict[tuple[str, str, str], int] = {}
    now = 1_800_000_000.0
    result = part.feed(0, future, tally, now)
    assert isinstance(result, Rejected) and result.reason == "future_timestamp:occurred_at"
    assert part.ingest.counted == 0 and part.ingest.newest == float("-inf")
    assert part.feed(1, _sim_lines(1)[0], tally, now) is not None  # neighbours still counted


def _log_with_redeliveries(seed: int, far: bool = False) -> list[bytes]:
    """One partition's log: 40 simulated minutes in which 5 % of the messages come again
    up to 400 messages later (well inside the dedupe horizon). ``far``: besides, 1 % come
    again 2,000-12,000 messages later (some behind their pane's close, some behind the
    dedupe horizon) and 0.5 % are moved as far (late events)."""
    rng = random.Random(seed)
    out: list[bytes] = []
    pending: list[tuple[int, bytes]] = []
    for raw in _sim_lines(40, seed=seed):
        u = rng.random()
        if far and u < 0.005:
            pending.append((len(out) + rng.randint(2000, 12000), raw))
            continue
        out.append(raw)
        if u < 0.055:
            pending.append((len(out) + rng.randint(1, 400), raw))
        elif far and u < 0.065:
            pending.append((len(out) + rng.randint(2000, 12000), raw))
        due = [p for p in pending if p[0] <= len(out)]
        pending = [p for p in pending if p[0] > len(out)]
        out.extend(raw for _, raw in due)
    return out


def _closed(messages: list[tuple[str, PaneMessage]]) -> list[tuple[str, str, str, bytes]]:
    return [(area, pane, key, msgspec.json.encode(counts))
            for area, msg in messages for pane, keyed in msg.panes.items()
            for key, counts in keyed.items()]


@pytest.mark.parametrize(("seed", "far"), [(1, False), (2, False), (3, False),
                                           (4, True), (5, True)])
def test_id_less_snapshot_rebuilds_dedupe_from_the_log(config: Config, seed: int,
                                                       far: bool) -> None:
    """A snapshot without dedupe ids plus a re-read of the log from ``replay_from()``
    remembers exactly the ids an uninterrupted partition remembers and then counts, and
    calls duplicate and late, exactly what it does, wherever the snapshot was taken —
    with late events and copies far behind their pane's close too."""
    log_ = _log_with_redeliveries(seed, far)
    records = list(enumerate(log_))
    tally: dict[tuple[str, str, str], int] = {}

    whole = SourcePartition(config, "t.reports:0", config.areas)
    expected = []
    remembered_at: dict[int, int] = {}
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1000, len(records) - 1000), 4))
    bounds = sorted({*range(0, len(records), 97), *cuts, len(records)})
    for a, b in itertools.pairwise(bounds):
        whole.feed_batch(records[a:b], tally)
        remembered_at[b] = whole.ingest.remembered_ids  # what a cut at b must rebuild
        expected += _closed(whole.take_messages())
    assert whole.ingest.duplicates > 100 and whole.ingest.rotations >= 3
    if far:
        assert whole.ingest.late > 20

    for cut in cuts:
        first = SourcePartition(config, "t.reports:0", config.areas)
        got = []
        for i in range(0, cut, 97):
            first.feed_batch(records[i:min(i + 97, cut)], tally)
            got += _closed(first.take_messages())
        state = msgspec.json.decode(msgspec.json.encode(first.to_state(with_ids=False)))
        assert state["ingest"]["ids"] == [] and state["id_offsets"] is not None

        second = SourcePartition(config, "t.reports:0", config.areas)
        second.restore(state)
        assert second.replaying and second.replay_from() < cut
        # What the worker does: re-read from replay_from(), ids only until next_offset.
        second.rebuild_ids((o, raw, None) for o, raw in records[second.replay_from():cut])
        second.end_replay()
        assert second.ingest.remembered_ids == remembered_at[cut], cut
        for i in range(cut, len(records), 97):
            second.feed_batch(records[i:i + 97], tally)
            got += _closed(second.take_messages())
        assert (second.ingest.counted, second.ingest.duplicates, second.ingest.late) == (
            whole.ingest.counted, whole.ingest.duplicates, whole.ingest.late), cut
        assert sorted(got) == sorted(expected), cut


# --- quiet partitions (issue #9 items 5 and 6) ------------------------------------------

IDLE_S = 240.0  # the test's idle timeout, in event time (the worker's is wall time)


def _quiet_lines(minutes: int) -> list[bytes]:
    """Simulated traffic in which appeals are silent for stretches longer than the idle
    timeout: none before minute 6 (so their partitions are declared idle before their first
    message), none in minutes 14-22 and 31-40."""
    start = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC).timestamp()
    out = []
    for raw in _sim_lines(minutes):
        event = decode_event(raw)
        if type(event).__name__ == "Appeal":
            assert not isinstance(event, Rejected)
            minute = (event.occurred_at.timestamp() - start) / 60
            if minute < 6 or 14 <= minute < 22 or 31 <= minute < 40:
                continue
        out.append(raw)
    return out


def _times(lines: list[bytes]) -> list[float]:
    """Each line's event time (an invalid line: its predecessor's)."""
    out, last = [], float("-inf")
    for raw in lines:
        event = decode_event(raw)
        if not isinstance(event, Rejected):
            last = event.occurred_at.timestamp()
        out.append(last)
    return out


def _partitioned_with_idle(config: Config, lines: list[bytes], partitions: int,
                           seed: int) -> tuple[list[SignalRow], list[Episode], LocalMerge]:
    """The producer's routing, a clock (event time) moving in random steps, each partition
    read up to the clock or, at random, lagging behind it, and an idle check after each
    step: a partition caught up with the clock that got no message for ``IDLE_S`` is
    declared idle."""
    per = _route(lines, partitions)
    produced = {s: list(itertools.accumulate(_times(raws), max)) for s, raws in per.items()}
    merge = LocalMerge(config, list(per))
    cursors = dict.fromkeys(per, 0)
    offsets = dict.fromkeys(per, 0)  # idle records take offsets too
    last_message = dict.fromkeys(per, float("-inf"))
    rng = random.Random(seed)
    clock = min(t[0] for t in produced.values() if t)
    end = max(t[-1] for t in produced.values() if t)
    declared = 0
    while clock <= end + IDLE_S:
        clock += rng.uniform(5, 90)
        order = list(per)
        rng.shuffle(order)
        for src in order:
            available = bisect.bisect_right(produced[src], clock)
            upto = available if rng.random() < 0.7 else rng.randint(cursors[src], available)
            for i in range(cursors[src], upto):
                merge.feed(src, offsets[src], per[src][i])
                offsets[src] += 1
            if upto > cursors[src]:
                last_message[src] = clock
            cursors[src] = max(cursors[src], upto)
        for src in per:
            caught_up = cursors[src] == bisect.bisect_right(produced[src], clock)
            if caught_up and clock - last_message[src] >= IDLE_S:
                offsets[src] += _declare_idle(merge, src, offsets[src])
                declared += 1
    assert all(cursors[s] == len(per[s]) for s in per)
    assert declared > 50
    newest = max(e.occurred_at.timestamp() for raw in lines
                 if not isinstance(e := decode_event(raw), Rejected))
    merge.watermark((int(newest // config.pane_s) + 1) * config.pane_s)
    rows = [r for m in merge.merges.values() for r in m.evaluator.drain_rows()]
    episodes = [e for m in merge.merges.values() for e in m.evaluator.episodes]
    return rows, episodes, merge


@pytest.mark.parametrize("partitions,seed", [(6, 4), (3, 5)])
def test_partitioned_merge_with_quiet_partitions_equals_single_engine(
        config: Config, partitions: int, seed: int) -> None:
    lines = _quiet_lines(50)
    rows, episodes, engine = _backtest(config, lines)
    assert engine.ingest.late == 0 and len(rows) > 1000 and episodes
    got_rows, got_episodes, merge = _partitioned_with_idle(config, lines, partitions, seed)
    assert sum(m.late_panes for m in merge.merges.values()) == 0
    assert sum(p.ingest.late for p in merge.parts.values()) == 0
    assert sorted(got_rows, key=_key) == sorted(rows, key=_key)
    assert sorted(got_episodes, key=_ekey) == sorted(episodes, key=_ekey)


def test_an_idle_notice_does_not_let_the_merge_pass_open_panes(config: Config) -> None:
    """The quiet source's frontier is 2 panes: what it holds beyond is still open there."""
    pane = config.pane_s
    merge = AreaMerge(config, "youth_safety", ["a:0", "a:1"])
    merge.apply(0, PaneMessage("a:0", to=10 * pane, first=0))
    merge.apply(1, PaneMessage("a:1", to=2 * pane, first=0, idle=True))
    merge.advance()
    assert merge.evaluator.closed_until == 2 * pane
    # It speaks again with the panes it held: all of them are added, none is late.
    merge.apply(2, PaneMessage("a:1", to=6 * pane,
                               panes={str(3 * pane): {"youth_safety": {"reports": 5}}}))
    merge.advance()
    assert merge.late_panes == 0 and merge.evaluator.closed_until == 6 * pane


def test_idle_before_the_first_message_does_not_close_anything(config: Config) -> None:
    pane = config.pane_s
    merge = AreaMerge(config, "youth_safety", ["a:0", "a:1"])
    merge.apply(0, PaneMessage("a:1", idle=True))
    merge.apply(1, PaneMessage("a:0", to=10 * pane, first=0,
                               panes={"0": {"youth_safety": {"reports": 1}}}))
    merge.advance()
    assert merge.evaluator.closed_until is None
    merge.apply(2, PaneMessage("a:1", to=10 * pane, first=0,
                               panes={"0": {"youth_safety": {"reports": 2}}}))
    merge.advance()
    assert merge.late_panes == 0
    assert merge.evaluator.closed_until == 10 * pane


def test_an_idle_flag_restored_from_a_snapshot_does_not_drop_a_backlog(config: Config) -> None:
    """A snapshot taken while a:1 was idle (and written by an older version with the flag),
    then an outage: a:0 resumes first, a:1's backlog comes later."""
    pane = config.pane_s
    merge = AreaMerge(config, "youth_safety", ["a:0", "a:1"])
    merge.apply(0, PaneMessage("a:0", to=4 * pane, first=0,
                               panes={"0": {"youth_safety": {"reports": 1}}}))
    merge.apply(1, PaneMessage("a:1", to=4 * pane, first=0))
    merge.advance()
    state = merge.to_state()
    state["idle"] = ["a:1"]
    again = AreaMerge(config, "youth_safety", ["a:0", "a:1"])
    again.restore(msgspec.json.decode(msgspec.json.encode(state)))
    again.apply(2, PaneMessage("a:0", to=30 * pane))
    again.advance()
    assert again.evaluator.closed_until == 4 * pane
    again.apply(3, PaneMessage("a:1", to=30 * pane,
                               panes={str(p * pane): {"youth_safety": {"reports": 3}}
                                      for p in range(4, 30)}))
    again.advance()
    assert again.late_panes == 0
    assert again.evaluator.closed_until == 30 * pane


def test_a_frozen_owners_idle_notice_changes_nothing(config: Config) -> None:
    """A worker stopped past the session timeout wakes up and announces "idle" from its old
    copy of a:1 while the new owner is working through a backlog; its watermark record, if
    it writes one, lands in a:1's log after that backlog."""
    lines = _sim_lines(30)
    cut = len(lines) // 3
    tally: dict[tuple[str, str, str], int] = {}
    merge = LocalMerge(config, ["a:0", "a:1"])
    stale = SourcePartition(config, "a:1", config.areas)
    stale.feed_batch(enumerate(lines[:cut]), tally)
    owner = merge.parts["a:1"]
    owner.feed_batch(enumerate(lines[:cut]), tally)
    merge.publish(owner, owner.take_messages())
    for i, raw in enumerate(lines):
        merge.feed("a:0", i, raw)
    before = {a: m.evaluator.closed_until for a, m in merge.merges.items()}
    assert None not in before.values()
    merge.publish(stale, stale.take_messages(force=True))
    merge.publish(stale, stale.idle_messages())  # the frozen owner
    assert {a: m.evaluator.closed_until for a, m in merge.merges.items()} == before
    stale_mark = merge.merges["youth_safety"].group_watermark("a:1")
    assert stale_mark is not None and stale_mark > owner.ingest.closed_until
    owner.feed_batch(((i, raw) for i, raw in enumerate(lines) if i >= cut), tally)
    assert owner.advance(len(lines), stale_mark)  # the frozen owner's record, in the log
    merge.publish(owner, owner.take_messages())
    assert owner.ingest.late == 0
    assert sum(m.late_panes for m in merge.merges.values()) == 0
    assert {a: m.evaluator.closed_until for a, m in merge.merges.items()} == {
        a: int(stale_mark) for a in merge.merges}


def _declare_idle(merge: LocalMerge, src: str, offset: int) -> int:
    """The idle check: a watermark record with the group's watermark (the offsets used)."""
    return 1 if merge.idle(src, offset) else 0


# --- snapshot bounds (issue #9 item 8) ---------------------------------------------------

def test_closed_episodes_are_bounded_and_handed_out_without_changing_the_output(
        config: Config) -> None:
    lines = _sim_lines(50)
    per = _route(lines, 2)
    full = LocalMerge(config, list(per))
    bounded = LocalMerge(config, list(per), keep_closed=0)
    sizes = []
    taken = []
    rows: dict[str, list[SignalRow]] = {"full": [], "bounded": []}
    chunks = [(src, i) for src in per for i in range(0, len(per[src]), 200)]
    chunks.sort(key=lambda c: (c[1], c[0]))  # round robin over the partitions
    for n, (src, start) in enumerate(chunks):
        for i in range(start, min(start + 200, len(per[src]))):
            full.feed(src, i, per[src][i])
            bounded.feed(src, i, per[src][i])
        for name, lm in (("full", full), ("bounded", bounded)):
            rows[name] += [r for m in lm.merges.values() for r in m.evaluator.drain_rows()]
        taken += [e for m in bounded.merges.values() for e in m.take_closed()]
        if n % 10 == 0:  # a restart of every area's owner, from its bounded snapshot
            for area, old in list(bounded.merges.items()):
                state = msgspec.json.decode(msgspec.json.encode(old.to_state()))
                kept = [msgspec.convert(e, Episode) for e in state["evaluator"]["episodes"]]
                assert kept == [e for e in full.merges[area].evaluator.episodes
                                if e.ended_at is None]  # open ones only
                sizes.append(len(kept))
                new = AreaMerge(config, area, list(per), keep_closed=0)
                new.restore(state)
                bounded.merges[area] = new
    closed = [e for m in full.merges.values() for e in m.evaluator.episodes
              if e.ended_at is not None]
    assert len(closed) >= 2  # the incidents' episodes, closed before the end
    assert sorted(taken, key=_ekey) == sorted(closed, key=_ekey)
    assert sorted(rows["bounded"], key=_key) == sorted(rows["full"], key=_key)
    assert not any(e.ended_at for m in bounded.merges.values() for e in m.evaluator.episodes)
    assert max(sizes) > 0  # some restarts happened during an episode


def test_snapshot_size_names_the_part_over_the_limit(config: Config) -> None:
    lines = _sim_lines(12)
    part = SourcePartition(config, "t.reports:0", config.areas)
    part.feed_batch(enumerate(lines), {})
    part.take_messages()
    size = part.snapshot_size()
    assert size.total == len(msgspec.json.encode(part.to_state(with_ids=False)))
    panes = len(msgspec.json.encode(part.to_state(with_ids=False)["ingest"]["panes"]))
    assert size.parts["ingest.panes"] == panes
    assert size.refusal("t.reports:0", size.total) is None
    message = size.refusal("t.reports:0", 1000)
    assert message is not None and "ingest.panes" in message and str(size.total) in message


# --- future dates (issue #9 item 7) ------------------------------------------------------

def _report(event_id: str, at: dt.datetime) -> bytes:
    return (b'{"event_id": "%s", "type": "report", "occurred_at": "%s",'
            b' "policy_area": "youth_safety", "reporter": "user"}'
            % (event_id.encode(), at.isoformat().encode()))


def test_future_date_guard_decides_the_same_on_a_re_read(config: Config) -> None:
    """An event dated 11 minutes after its record was sent is refused at the first read and
    again when the partition is re-read from a snapshot two hours later."""
    sent = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    records = [(0, _report("ok-1", sent), sent.timestamp()),
               (1, _report("ahead", sent + dt.timedelta(minutes=11)), sent.timestamp() + 1),
               (2, _report("ok-2", sent + dt.timedelta(minutes=9)), sent.timestamp() + 2),
               (3, _report("ok-3", sent + dt.timedelta(minutes=12)), sent.timestamp() + 180)]
    tally: dict[tuple[str, str, str], int] = {}
    first = SourcePartition(config, "t.reports:0", config.areas, max_future_s=600)
    snapshot = msgspec.json.decode(msgspec.json.encode(first.to_state()))
    refused = first.feed_sent(records, tally)
    assert [(o, r.reason, r.event_id) for o, r in refused] == [
        (1, "future_timestamp:occurred_at", "ahead")]
    again = SourcePartition(config, "t.reports:0", config.areas, max_future_s=600)
    again.restore(snapshot)  # a crash before the next snapshot: the offsets come again
    assert [o for o, _ in again.feed_sent(records, tally)] == [1]
    assert again.ingest.counted == first.ingest.counted == 3
    assert first.ingest.late == again.ingest.late == 0
    # Without the guard (a backtest) everything is admitted, and the event dated ahead
    # makes the one 9 minutes ahead late: what the guard is there to prevent.
    free = SourcePartition(config, "t.reports:0", config.areas)
    assert free.feed_sent(records, tally) == []
    assert (free.ingest.counted, free.ingest.late) == (3, 1)


def test_an_event_behind_an_idle_record_is_late_at_its_source_not_dropped_by_the_merge(
        config: Config) -> None:
    pane = config.pane_s
    t0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    merge = LocalMerge(config, ["a:0", "a:1"])
    for i in range(20):  # a:0 is busy for 20 panes
        merge.feed("a:0", i, _report(f"busy-{i}", t0 + dt.timedelta(seconds=i * pane)))
    merge.feed("a:1", 0, _report("quiet-0", t0))
    assert merge.idle("a:1", 1)  # quiet: advanced to what a:0 has closed
    closed = merge.merges["youth_safety"].evaluator.closed_until
    assert closed == merge.parts["a:0"].ingest.closed_until
    # An event of a:1 dated before that watermark is counted late, where the metrics see it.
    assert merge.feed("a:1", 2, _report("behind", t0 + dt.timedelta(seconds=pane))) == "late"
    assert sum(m.late_panes for m in merge.merges.values()) == 0
    assert merge.parts["a:1"].ingest.late == 1
    assert merge.tally[("report", "youth_safety", "late")] == 1
