"""What calibrate records per window is what the alert machine would compare: gaps where the
machine sees no value or too few samples, and for appeal_rate (`surprise_of: count`) the
smaller of the two tails."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from signals.judges import Judgement
from signals.lines import decode_chunks
from signals.pipeline import Pipeline
from signals.significance import count_surprise, rate_surprise
from streams.backtest.calibrate import _Recorder, replay
from streams.cli.main import main
from streams.config_files import default_config_path, load_config

AREA = "hate_speech"
WAVE = "scams_fraud"  # the appeal wave of `simulate --incidents 8`


def _judged(score: float, den: float = 50.0) -> Judgement:
    return Judgement(score, 0.1, True, 5.0, den)


def test_a_window_with_nothing_to_judge_is_a_gap_that_splits_a_run() -> None:
    config = load_config(default_config_path())
    log: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    rec = _Recorder(log, dict(config.rules))
    key = ((AREA, None), "overturn_rate")
    rec[key] = _judged(3.0)
    rec.pop(key, None)  # what the evaluator does when judge() returns None (no samples)
    rec[key] = _judged(3.5)
    # Two runs above 2, not one: the machine saw no value in between (a pending alert is
    # cancelled there).
    assert log[(AREA, "overturn_rate")] == [3.0, None, 3.5]
    # A market's judgement is not the area's rule.
    rec[((AREA, "DE"), "overturn_rate")] = _judged(9.0)
    rec.pop(((AREA, "DE"), "overturn_rate"), None)
    assert log[(AREA, "overturn_rate")] == [3.0, None, 3.5]


def test_a_latency_window_under_min_samples_is_a_gap() -> None:
    config = load_config(default_config_path())
    assert config.rules[(AREA, "review_latency_p95")].min_samples == 30  # shipped
    log: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    rec = _Recorder(log, dict(config.rules))
    key = ((AREA, None), "review_latency_p95")
    for ratio, n in ((4.0, 29), (4.5, 30), (5.0, 12)):
        rec[key] = _judged(ratio, 1.0)  # a baseline_ratio judgement carries no count
        rec.sized((AREA, "review_latency_p95"), n)  # its row does
    assert log[(AREA, "review_latency_p95")] == [None, 4.5, None]


class _Capture(dict[Any, Judgement]):
    """Every area-level appeal_rate judgement of WAVE, in order (None where it was dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Judgement | None] = []

    def __setitem__(self, key: Any, value: Judgement) -> None:
        super().__setitem__(key, value)
        if key == ((WAVE, None), "appeal_rate"):
            self.seen.append(value)

    def pop(self, key: Any, default: Any = None) -> Any:
        if key == ((WAVE, None), "appeal_rate"):
            self.seen.append(None)
        return super().pop(key, default)


def test_appeal_rate_is_fitted_to_the_smaller_of_its_two_tails(tmp_path: Path) -> None:
    events = tmp_path / "h.jsonl"
    # An appeal wave in the history, so that material windows with high scores occur.
    assert main(["simulate", "--duration", "2h", "--seed", "5", "--incidents", "8",
                 "--out", str(events)]) == 0
    config = load_config(default_config_path())
    rule = config.rules[(WAVE, "appeal_rate")]
    assert rule.surprise_of == "count" and rule.min_samples == 0
    recorded = replay(config, events).series[(WAVE, "appeal_rate")]

    # The same replay, the judgements captured raw, and the score recomputed from their own
    # fields with the two tails of signals.significance.
    pipeline = Pipeline(config)
    capture = pipeline.engine.evaluator.judgements = _Capture()
    with events.open("rb") as handle:
        for batch in decode_chunks(iter(handle), lambda *a: None, 256):
            pipeline.engine.ingest.ingest_batch(batch)
            pipeline.engine.evaluator.drain_rows()
        pipeline.engine.flush()
    expected: list[float | None] = []
    rate_higher = 0  # material windows whose k-of-n tail alone would score higher
    for j in capture.seen:
        if j is None or j.score is None:
            expected.append(None)
        elif not j.material:
            expected.append(0.0)
        else:
            assert j.pooled is not None and j.windows is not None
            hits, n = round(j.num), round(j.den)
            count_tail = count_surprise(hits, j.pooled[0], j.windows)
            rate_tail = rate_surprise(hits, n, *j.pooled)
            expected.append(min(count_tail, rate_tail))
            rate_higher += rate_tail > count_tail + 0.1
    assert len(recorded) == len(expected) > 100
    assert recorded == pytest.approx(expected)
    # The fit must not use the k-of-n tail alone: here it would have scored higher.
    assert rate_higher > 0
