"""Incident files (CSV and YAML): read back what was written; refuse bad rows clearly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from streams.backtest.incidents import IncidentsError, KnownIncident, dump_incidents, load_incidents

AREAS = ("youth_safety", "body_image", "other")
SIGNALS = ("minor_exposure", "report_surge")
T = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)


def test_csv_with_optional_columns_empty_or_absent(tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text("policy_area,start,end,signal,label\n"
                    "youth_safety,2026-11-24T10:00:00Z,2026-11-24T10:10:00Z,minor_exposure,spike\n"
                    "body_image,2026-11-24T12:00:00+01:00,2026-11-24T11:30:00Z,,\n")
    assert load_incidents(path, AREAS, SIGNALS) == [
        KnownIncident("youth_safety", T, T + dt.timedelta(minutes=10), "minor_exposure", "spike"),
        KnownIncident("body_image", T + dt.timedelta(hours=1), T + dt.timedelta(minutes=90)),
    ]
    short = tmp_path / "short.csv"
    short.write_text("policy_area,start,end\nbody_image,2026-11-24T10:00:00Z,"
                     "2026-11-24T10:05:00Z\n")
    assert load_incidents(short)[0].signal is None


def test_yaml_list_or_mapping_and_unquoted_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "i.yaml"
    path.write_text("incidents:\n- policy_area: youth_safety\n  start: 2026-11-24T10:00:00Z\n"
                    "  end: '2026-11-24T10:10:00Z'\n  signal: minor_exposure\n")
    assert load_incidents(path, AREAS, SIGNALS) == [
        KnownIncident("youth_safety", T, T + dt.timedelta(minutes=10), "minor_exposure")]


@pytest.mark.parametrize("suffix", [".csv", ".yaml"])
def test_dump_then_load_is_the_same(tmp_path: Path, suffix: str) -> None:
    incidents = [KnownIncident("youth_safety", T, T + dt.timedelta(seconds=600),
                               "minor_exposure", "minor_exposure"),
                 KnownIncident("body_image", T, T + dt.timedelta(seconds=60))]
    path = tmp_path / f"out{suffix}"
    dump_incidents(incidents, path)
    assert load_incidents(path, AREAS, SIGNALS) == incidents


def problems(tmp_path: Path, name: str, text: str) -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(IncidentsError) as err:
        load_incidents(path, AREAS, SIGNALS)
    return err.value.problems


def test_every_bad_row_is_named_with_file_row_field_and_fix(tmp_path: Path) -> None:
    got = problems(tmp_path, "bad.csv",
                   "policy_area,start,end,signal\n"
                   "youth_safety,2026-11-24 10:00,2026-11-24T10:10:00Z,\n"       # line 2
                   "youth_safety,2026-11-24T10:00:00,2026-11-24T10:10:00Z,\n"    # line 3
                   "youth_safty,2026-11-24T10:00:00Z,2026-11-24T10:10:00Z,\n"    # line 4
                   "youth_safety,2026-11-24T10:10:00Z,2026-11-24T10:00:00Z,\n"   # line 5
                   "youth_safety,2026-11-24T10:00:00Z,2026-11-24T10:10:00Z,minor\n"  # line 6
                   ",2026-11-24T10:00:00Z,,\n")                                   # line 7
    path = tmp_path / "bad.csv"
    assert got[0] == (f"{path}: line 2: start: 2026-11-24 10:00 has no UTC offset; add one, "
                      "like 2026-11-24T10:00:00Z")
    assert any(p.startswith(f"{path}: line 3: start:") and "no UTC offset" in p for p in got)
    assert any(p.startswith(f"{path}: line 4: policy_area: 'youth_safty' is not an area")
               for p in got)
    assert any(p.startswith(f"{path}: line 5: end:") and "not after start" in p for p in got)
    assert any(p.startswith(f"{path}: line 6: signal: 'minor' is not a signal") for p in got)
    assert any(p.startswith(f"{path}: line 7: end: is empty") for p in got)
    assert any(p.startswith(f"{path}: line 7: policy_area: missing") for p in got)
    assert all("; " in p or "known:" in p for p in got)  # each says what to do


def test_file_level_problems(tmp_path: Path) -> None:
    assert "missing column(s) end" in problems(tmp_path, "h.csv", "policy_area,start\n")[0]
    assert "unknown field" in problems(
        tmp_path, "u.yaml", "- {policy_area: body_image, start: 2026-11-24T10:00:00Z, "
        "end: 2026-11-24T10:10:00Z, sev: high}\n")[0]
    extra = problems(tmp_path, "x.csv", "policy_area,start,end\nbody_image,"
                     "2026-11-24T10:00:00Z,2026-11-24T10:10:00Z,surge\n")
    assert extra == [f"{tmp_path / 'x.csv'}: line 2: more cells than the header has columns; "
                     "remove them or name the columns in the first line"]
    date_only = problems(tmp_path, "d.yaml", "- {policy_area: body_image, start: 2026-11-24, "
                         "end: 2026-11-24T10:10:00Z}\n")
    assert date_only == [f"{tmp_path / 'd.yaml'}: row 1: start: 2026-11-24 is not a time; write "
                         "RFC 3339 with an offset, like 2026-11-24T10:00:00Z"]
    assert "not valid YAML" in problems(tmp_path, "y.yaml", "- [unclosed\n")[0]
    assert "expected a list" in problems(tmp_path, "m.yaml", "policy_area: x\n")[0]
    assert "name it .csv or .yaml" in problems(tmp_path, "i.txt", "")[0]
    with pytest.raises(IncidentsError, match="file not found"):
        load_incidents(tmp_path / "absent.csv")
