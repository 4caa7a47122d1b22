"""Fixtures of the alerting tests (rules, Alertmanager, dashboards, the end-to-end path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from signals.config import Config
from streams.config_files import load_config
from tests.alerting.alerting_stack import Processes


@pytest.fixture(scope="session")
def config() -> Config:
    """The shipped config: what the committed rules and dashboards were generated from."""
    return load_config(Path(__file__).resolve().parents[2] / "config/thresholds.yaml")


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Starts real processes for one test and stops every one of them afterwards."""
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()
