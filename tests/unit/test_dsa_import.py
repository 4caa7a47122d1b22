"""Import of real EU DSA Transparency Database statements of reasons."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import orjson

from signals.events import Decision, decode_event
from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.sources.dsa_import import convert
from tests.support import HARMWATCH, REPO, SHARED

DATA = SHARED / "data" / "dsa-sor"
FILES = sorted(DATA.glob("*.csv"))


def test_every_real_row_becomes_a_valid_decision() -> None:
    assert len(FILES) == 4
    converted = list(convert(FILES))
    assert len(converted) == 200
    assert all(problem is None for _, problem in converted)
    events = [decode_event(orjson.dumps(e)) for e, _ in converted]
    assert all(isinstance(e, Decision) for e in events)
    decisions = [e for e in events if isinstance(e, Decision)]
    areas = Counter(e.policy_area for e in decisions)
    assert areas["hate_speech"] == 46 and areas["youth_safety"] == 15
    assert areas["adult_nudity"] == 11 and areas["scams_fraud"] == 8
    assert sum(e.minor_audience for e in decisions) == 15
    assert {e.detection for e in decisions} == {"automated", "human", "hybrid"}
    assert all(e.content_id is None and e.advertiser_id is None for e in decisions)


def test_the_databases_duplicate_statement_counts_once(tmp_path: Path) -> None:
    out = tmp_path / "dsa.jsonl"
    result = subprocess.run([*HARMWATCH, "import-dsa", *map(str, FILES),
                             "--out", str(out)], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 0 and "wrote 200 decision events" in result.stderr
    pipeline = Pipeline(load_config(REPO / "config" / "thresholds.yaml"))
    for raw in out.read_bytes().splitlines():
        pipeline.feed(raw)
    engine = pipeline.engine
    assert engine.ingest.duplicates == 1  # rows 1 and 2 of the first 2024 file share a uuid
    assert engine.ingest.counted + engine.ingest.duplicates + engine.ingest.late == 200
    other = sum(n for (stream, area, outcome), n in pipeline.events.items()
                if area == "other" and outcome == "counted")
    assert other >= 100  # "scope of platform service" has no home in the taxonomy


def test_unmappable_row_is_reported_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    header = FILES[0].read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(header + "\n" + ",".join([""] * len(header.split(","))) + "\n")
    assert [p for _, p in convert([bad])] == ["uuid"]
