"""The export trace and its reader: what the chaos run's exact counters rest on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.export_overlaps import check, load
from streams.kafka import export_trace
from streams.kafka.exact_counts import PartitionCounts


def _export(pid: int, t: float, source: str, before: dict[str, int],
            after: dict[str, int]) -> dict[str, object]:
    return {"t": t, "pid": pid, "kind": "export", "source": source, "next_offset": 0,
            "before": sum(before.values()), "after": sum(after.values()),
            "outcomes_before": before, "outcomes_after": after}


def test_note_writes_the_partition_totals_by_outcome(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_trace, "_PREFIX", str(tmp_path / "x"))
    counts = PartitionCounts(
        events={("decisions", "youth_safety", "counted"): 7,
                ("decisions", "scams_fraud", "counted"): 5,
                ("decisions", "scams_fraud", "late"): 2},
        exported_events={("decisions", "youth_safety", "counted"): 3})
    export_trace.note("export", "decisions:0", 42, counts)
    [row] = load(str(tmp_path / "x.*"))
    assert (row["before"], row["after"], row["next_offset"]) == (3, 14, 42)
    assert row["outcomes_before"] == {"counted": 3}
    assert row["outcomes_after"] == {"counted": 12, "late": 2}
    assert "youth_safety" not in json.dumps(row)  # totals only: no area, no id


def test_note_does_nothing_when_the_trace_is_off(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_trace, "_PREFIX", None)
    monkeypatch.chdir(tmp_path)
    export_trace.note("export", "decisions:0", 1, PartitionCounts())
    assert list(tmp_path.iterdir()) == []


def test_tiled_exports_sum_to_the_outcomes_with_no_overlap_or_gap() -> None:
    rows = [_export(1, 10.0, "decisions:0", {}, {"counted": 8, "late": 2}),
            _export(2, 20.0, "decisions:0", {"counted": 8, "late": 2},
                    {"counted": 15, "late": 2, "duplicate": 1}),
            _export(2, 21.0, "reports:3", {}, {"counted": 4})]
    report = check(rows)
    assert report.overlaps == [] and report.gaps == []
    assert report.exported == {"counted": 19, "late": 2, "duplicate": 1}
    assert report.exported_by(2, 21.0, inclusive=False) == {"counted": 7, "duplicate": 1}
    assert report.exported_by(2, 21.0, inclusive=True) == {"counted": 11, "duplicate": 1}
    assert report.exported_by(3, 99.0, inclusive=True) == {}


def test_a_stretch_exported_twice_is_an_overlap_naming_both_processes() -> None:
    # pid 2 restored an old snapshot (exported 5) and exported 5-12 again over pid 1's 0-10.
    rows = [_export(1, 10.0, "appeals:1", {}, {"counted": 10}),
            _export(2, 11.0, "appeals:1", {"counted": 5}, {"counted": 12})]
    report = check(rows)
    assert len(report.overlaps) == 1 and report.gaps == []
    assert report.overlaps[0].startswith("appeals:1: 5 counted twice: pid 1")
    assert "pid 2 exported" not in report.overlaps[0] and "pid 2 5-12" in report.overlaps[0]
    assert report.exported == {"counted": 17}


def test_a_stretch_nobody_exported_is_a_gap() -> None:
    rows = [_export(1, 10.0, "appeals:1", {}, {"counted": 10}),
            _export(2, 30.0, "appeals:1", {"counted": 14}, {"counted": 20})]
    report = check(rows)
    assert report.overlaps == []
    assert report.gaps == ["appeals:1: 10-14 exported by nobody (next export by pid 2 at "
                           "30.000)"]
