"""Experiment (not product code): how fast can the backtest loop get without changing results?

Prototypes, each cumulative, of fixes suggested in docs/performance.md. Every variant's
output (signal rows, episodes, counted/duplicate/late, the pipeline's per-(stream, area,
outcome) counters) is compared with ``run_backtest`` on the same file, so a faster number is
only printed for identical results. It pokes at ``Ingest`` private fields: if the engine
changes shape it fails loudly, which is fine for an experiment.

  baseline   streams.backtest.run_backtest as shipped
  A          same engine, decoder without the two regex ``pattern`` constraints; area and
             market syntax checked after decoding through a memo dict (same reject reasons)
  B          A + fused driver loop (no Pipeline.feed / decode_event / engine.rows property
             per line; ingest inlined with locals; counters keyed without area_of())
  C          B + msgspec ``Decoder.decode_lines`` on 1 MiB chunks (per-line fallback for a
             chunk with a bad line, so rejects keep their line numbers)

Usage::

    .venv/bin/python benchmarks/experiments/fast_backtest.py FILE.jsonl [--cpu 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from signals.counts import Counts  # noqa: E402
from signals.engine import COUNTED, DUPLICATE, LATE, Engine  # noqa: E402
from signals.events import Appeal, Decision, Rejected, Report, decode_event  # noqa: E402
from streams.backtest import run_backtest  # noqa: E402
from streams.config_files import load_config  # noqa: E402

# --- A: the contract without regex constraints (the schema keeps them via extra_json_schema)
_AREA_RE = r"^[a-z][a-z0-9_]*$"
_MARKET_RE = r"^[A-Z]{2}$"
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
OpaqueId = Annotated[str, msgspec.Meta(max_length=128)]
AreaId = Annotated[str, msgspec.Meta(min_length=1, max_length=64,
                                     extra_json_schema={"pattern": _AREA_RE})]
Market = Annotated[str, msgspec.Meta(extra_json_schema={"pattern": _MARKET_RE})]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Timestamp = Annotated[dt.datetime, msgspec.Meta(tz=True)]
Surface = Literal["ad", "video", "live", "comment", "profile", "shop", "other"]
Detection = Literal["automated", "human", "hybrid"]


class _Event(msgspec.Struct, kw_only=True, frozen=True, gc=False, tag_field="type"):
    event_id: EventId
    occurred_at: Timestamp
    policy_area: AreaId
    market: Market | None = None
    surface: Surface = "other"
    content_id: OpaqueId | None = None
    advertiser_id: OpaqueId | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=16)] = []


class FDecision(_Event, kw_only=True, frozen=True, gc=False, tag="decision"):
    verdict: Literal["violating", "non_violating", "escalated"]
    action: Literal["none", "remove", "restrict", "age_restrict", "demonetize", "reject_ad",
                    "suspend_account"] = "none"
    detection: Detection
    source: Literal["proactive", "user_report", "trusted_flagger", "regulator"] = "proactive"
    minor_audience: bool = False
    severity: Annotated[int, msgspec.Meta(ge=1, le=4)] | None = None
    reported_at: Timestamp | None = None


class FAppeal(_Event, kw_only=True, frozen=True, gc=False, tag="appeal"):
    decision_id: EventId
    stage: Literal["filed", "decided"]
    outcome: Literal["upheld", "overturned"] | None = None
    original_detection: Detection | None = None

    def __post_init__(self) -> None:
        if self.stage == "decided" and self.outcome is None:
            raise ValueError("Object missing required field `outcome`")


class FReport(_Event, kw_only=True, frozen=True, gc=False, tag="report"):
    reporter: Literal["user", "trusted_flagger", "regulator", "advertiser", "employee"]


_fast_decoder = msgspec.json.Decoder(FDecision | FAppeal | FReport)
_area_ok = re.compile(_AREA_RE).match
_market_ok = re.compile(_MARKET_RE).match
# Memo of syntax checks: the set of distinct areas/markets in a stream is tiny. Bounded so a
# hostile stream of distinct strings cannot grow it; past the bound it just re-checks.
_MEMO_MAX = 4096
_area_memo: dict[str, bool] = {}
_market_memo: dict[str | None, bool] = {None: True}


def _check(event: FDecision | FAppeal | FReport) -> str | None:
    area = event.policy_area
    ok = _area_memo.get(area)
    if ok is None:
        ok = _area_ok(area) is not None
        if len(_area_memo) < _MEMO_MAX:
            _area_memo[area] = ok
    if not ok:
        return "bad_value:policy_area"
    market = event.market
    ok = _market_memo.get(market)
    if ok is None:
        ok = _market_ok(market) is not None  # type: ignore[arg-type]
        if len(_market_memo) < _MEMO_MAX:
            _market_memo[market] = ok
    return None if ok else "bad_value:market"


def decode_fast(raw: bytes) -> object:
    """Same contract and reject reasons as signals.events.decode_event, no regex per field."""
    if len(raw) > 64 * 1024:
        return decode_event(raw)
    try:
        event = _fast_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
        return decode_event(raw)  # the slow path gives the exact reason and id
    bad = _check(event)
    if bad is not None:
        return decode_event(raw)  # ditto (it fails the same pattern and says so)
    return event


STREAM_OF = {Decision: "decision", Appeal: "appeal", Report: "report",
             FDecision: "decision", FAppeal: "appeal", FReport: "report"}


# Counts.add_event dispatches on `type(event) is Report`; the fast structs are other
# classes, so variants A-C count through this copy of it (same arithmetic).
_ELEVATED = frozenset({"regulator", "trusted_flagger"})


def add_event(c: Counts, event: object, tp: type) -> None:
    if tp is FReport:
        c.reports += 1
        if event.reporter in _ELEVATED:  # type: ignore[attr-defined]
            c.regulator_reports += 1
    elif tp is FDecision:
        verdict = event.verdict  # type: ignore[attr-defined]
        if verdict == "violating":
            c.violating += 1
            if event.minor_audience:  # type: ignore[attr-defined]
                c.minor_violating += 1
        elif verdict == "non_violating":
            c.non_violating += 1
        else:
            c.escalated += 1
        if event.action != "none":  # type: ignore[attr-defined]
            c.actioned += 1
        reported = event.reported_at  # type: ignore[attr-defined]
        if reported is not None:
            c.latencies.append(max(0.0, (event.occurred_at - reported).total_seconds()))  # type: ignore[attr-defined]
    else:
        if event.stage == "filed":  # type: ignore[attr-defined]
            c.appeals_filed += 1
        else:
            c.appeals_decided += 1
            if event.outcome == "overturned":  # type: ignore[attr-defined]
                c.appeals_overturned += 1


# --- drivers ------------------------------------------------------------------------------


def _fused(config, path: Path, decode, chunked: bool, fused: bool):  # type: ignore[no-untyped-def]
    """One loop: read, decode, ingest (inlined), counters, rows drained at pane closes."""
    engine = Engine(config)
    ing = engine.ingest_
    rows_out: list[object] = []
    events: dict[tuple[str, str, str], int] = {}
    raw_events: dict[tuple[type, str, str], int] = {}
    invalid: dict[tuple[str, str], int] = {}
    evaluator = engine.evaluator

    if not fused:
        from streams.pipeline import Pipeline

        pl = Pipeline(config)
        pl.engine = engine
        import streams.pipeline as spl

        old = spl.decode_event
        spl.decode_event = decode  # type: ignore[assignment]
        try:
            feed = pl.feed
            with path.open("rb") as f:
                for raw in f:
                    if raw == b"\n":
                        continue
                    feed(raw.rstrip(b"\r\n"))
                    if evaluator.rows:
                        rows_out.extend(evaluator.drain_rows())
        finally:
            spl.decode_event = old  # type: ignore[assignment]
        engine.flush()
        rows_out.extend(evaluator.drain_rows())
        return engine, pl.events, rows_out, pl

    seen = ing._seen
    ids_by_pane = ing._ids_by_pane
    panes = ing._panes
    area_keys = ing._area_keys
    other = ing._other
    pane_s = ing.pane
    max_ids = ing._max_ids
    markets = ing._markets
    assert not markets, "prototype covers the default config (no per-market keys)"
    counted = dups = late = 0

    def batches():  # type: ignore[no-untyped-def]
        with path.open("rb") as f:
            if not chunked:
                for raw in f:
                    if raw == b"\n":
                        continue
                    yield (decode(raw.rstrip(b"\r\n")),)
                return
            tail = b""
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                block = tail + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    tail = block
                    continue
                block, tail = block[:cut], block[cut:]
                try:
                    evs = _fast_decoder.decode_lines(block)
                except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
                    evs = None
                if evs is not None:
                    # The regex-free decoder needs the two syntax checks per event (memoised).
                    if all(_check(e) is None for e in evs):
                        yield evs
                        continue
                yield [decode(line.rstrip(b"\r")) for line in block.split(b"\n")
                       if line and line != b"\r"]
            if tail.strip():
                yield (decode(tail.rstrip(b"\r\n")),)

    closed_until = ing._closed_until
    trigger = ing._trigger
    max_ts = ing._max_ts
    for evs in batches():
        for event in evs:
            tp = type(event)
            if tp is Rejected:
                key = ("unknown", event.reason)
                invalid[key] = invalid.get(key, 0) + 1
                continue
            ts = event.occurred_at.timestamp()
            pane = int(ts // pane_s) * pane_s
            area = event.policy_area
            if pane < closed_until:
                late += 1
                k = (tp, area, LATE)
                raw_events[k] = raw_events.get(k, 0) + 1
                continue
            event_id = event.event_id
            if event_id in seen:
                dups += 1
                k = (tp, area, DUPLICATE)
                raw_events[k] = raw_events.get(k, 0) + 1
                continue
            if len(seen) < max_ids:
                seen[event_id] = pane
                ids = ids_by_pane.get(pane)
                if ids is None:
                    ids_by_pane[pane] = [event_id]
                else:
                    ids.append(event_id)
            bucket = panes.get(pane)
            if bucket is None:
                bucket = panes[pane] = {}
            key = area_keys.get(area, other)
            counts = bucket.get(key)
            if counts is None:
                counts = bucket[key] = Counts()
            if tp is Decision or tp is Report or tp is Appeal:
                counts.add_event(event)
            else:
                add_event(counts, event, tp)
            counted += 1
            k = (tp, area, COUNTED)
            raw_events[k] = raw_events.get(k, 0) + 1
            if ts > max_ts:
                max_ts = ing._max_ts = ts
                if ts >= trigger:
                    ing.close_through(ts - ing.lateness)
                    closed_until, trigger = ing._closed_until, ing._trigger
                    if evaluator.rows:
                        rows_out.extend(evaluator.drain_rows())
    ing.counted, ing.duplicates, ing.late = counted, dups, late
    engine.flush()
    rows_out.extend(evaluator.drain_rows())
    # Fold the raw-keyed counters into the Pipeline's (stream, area, outcome) shape once,
    # at the end (a live collector would do this at scrape time).
    for (tp, area, outcome), n in raw_events.items():
        k2 = (STREAM_OF[tp], area_keys.get(area, other)[0], outcome)
        events[k2] = events.get(k2, 0) + n
    return engine, events, rows_out, None


def run_variant(name: str, config, path: Path):  # type: ignore[no-untyped-def]
    if name == "baseline":
        rows: list[object] = []
        import streams.backtest as sb

        orig = sb._write_rows

        def grab(engine, out):  # type: ignore[no-untyped-def]
            rows.extend(engine.drain_rows())

        sb._write_rows = grab  # capture rows instead of encoding them (both variants alike)
        try:
            p = run_backtest(config, path, None, None, progress=False)
        finally:
            sb._write_rows = orig
        return p.engine, dict(p.events), rows
    if name == "A":
        # Pipeline.feed + engine.ingest as shipped, with the regex-free decoder. The shipped
        # Counts.add_event dispatches on the shipped struct classes, so patch it to ours.
        orig_add = Counts.add_event
        Counts.add_event = lambda self, e: add_event(self, e, type(e))  # type: ignore[method-assign]
        import streams.pipeline as spl

        spl.STREAM_OF = STREAM_OF  # type: ignore[assignment]
        try:
            engine, events, rows, _ = _fused(config, path, decode_fast, False, False)
        finally:
            Counts.add_event = orig_add  # type: ignore[method-assign]
        return engine, dict(events), rows
    if name == "B":
        engine, events, rows, _ = _fused(config, path, decode_fast, False, True)
        return engine, events, rows
    if name == "C":
        engine, events, rows, _ = _fused(config, path, decode_fast, True, True)
        return engine, events, rows
    raise SystemExit(name)


def fingerprint(engine, events, rows):  # type: ignore[no-untyped-def]
    return (engine.counted, engine.duplicates, engine.late,
            sorted(events.items()),
            [msgspec.to_builtins(r) for r in rows],
            [msgspec.to_builtins(e) for e in engine.episodes])


def compare_decoders(path: Path, repeat: int) -> int:
    import orjson

    from signals.events import _decoder

    with path.open("rb") as f:
        lines = [line.rstrip(b"\r\n") for _, line in zip(range(300_000), f, strict=False)]
    cases = [("orjson.loads (untyped ceiling)", orjson.loads),
             ("shipped msgspec Decoder.decode (2 regex patterns)", _decoder.decode),
             ("msgspec Decoder.decode, patterns moved to extra_json_schema",
              _fast_decoder.decode),
             ("shipped decode_event", decode_event),
             ("decode_fast (regex-free + memoised syntax check)", decode_fast)]
    print("| decoder | ns/event (CPU, best of repeats) |")
    print("|---|---:|")
    for label, fn in cases:
        best = float("inf")
        for _ in range(repeat):
            c0 = time.process_time()
            for line in lines:
                fn(line)
            best = min(best, time.process_time() - c0)
        print(f"| {label} | {best / len(lines) * 1e9:,.0f} |")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", type=Path)
    ap.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variants", default="baseline,A,B,C")
    ap.add_argument("--decoders", action="store_true",
                    help="only compare the decoders per line (CPU time, first 300k lines)")
    args = ap.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    if args.decoders:
        return compare_decoders(args.file, args.repeat)
    config = load_config(None)
    n = sum(1 for _ in args.file.open("rb"))
    ref = None
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):
        for name in args.variants.split(","):
            w0, c0 = time.perf_counter(), time.process_time()
            out = run_variant(name, config, args.file)
            w, c = time.perf_counter() - w0, time.process_time() - c0
            fp = fingerprint(*out)
            if ref is None:
                ref = fp
            same = fp == ref
            if not same:
                print(f"{name}: RESULTS DIFFER from baseline", file=sys.stderr)
                for i, (a, b) in enumerate(zip(fp, ref, strict=True)):
                    if a != b:
                        print(f"  field {i} differs", file=sys.stderr)
                return 1
            results.setdefault(name, []).append((n / w, n / c))
            print(f"# {name:8s} wall {n / w:>9,.0f} ev/s  cpu {n / c:>9,.0f} ev/s  "
                  f"(results identical: {same})", file=sys.stderr, flush=True)
    print("| variant | events/s wall (median) | events/s CPU time (median) |")
    print("|---|---:|---:|")
    import statistics

    for name, rs in results.items():
        print(f"| {name} | {statistics.median(r[0] for r in rs):,.0f} | "
              f"{statistics.median(r[1] for r in rs):,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
