"""The snapshot interval is a setting: it sets most of the produce -> /metrics latency."""

from __future__ import annotations

from pathlib import Path

import pytest

from signals.config import ConfigError
from streams.kafka.settings import load_kafka_settings
from tests.support import REPO


def _file(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "kafka.yaml"
    path.write_text(f"kafka:\n  broker: 127.0.0.1:9092\n  snapshot_every_s: {value}\n")
    return path


def test_the_shipped_interval_is_half_a_second_and_a_file_can_change_it(
        tmp_path: Path) -> None:
    assert load_kafka_settings(REPO / "config" / "kafka.yaml").snapshot_every_s == 0.5
    assert load_kafka_settings(_file(tmp_path, "2")).snapshot_every_s == 2.0


@pytest.mark.parametrize("value", ["0", "-1", "61"])
def test_an_interval_out_of_range_is_refused_naming_file_and_field(tmp_path: Path,
                                                                   value: str) -> None:
    path = _file(tmp_path, value)
    with pytest.raises(ConfigError) as err:
        load_kafka_settings(path)
    text = str(err.value)
    assert str(path) in text and "kafka.snapshot_every_s" in text
