"""What a relative rule shows on /metrics, in log lines and in the live view (issue #10):
the raw value, the area's expected value and the score the levels apply to, and which areas
are still warming up (too little history of their own to page)."""

from __future__ import annotations

import datetime as dt
import io

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from alerts.metrics import HarmwatchCollector, new_registry
from signals.config import Config
from signals.evaluator import Transition
from signals.pipeline import Pipeline
from streams.config_files import load_config
from streams.embedded.live import LiveView, describe
from streams.sources.simulator import Simulator
from tests.support import REPO

START = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 11, 24, 7, 5, tzinfo=dt.UTC)
CONFIG = load_config(REPO / "config" / "thresholds.yaml")


def _samples(pipeline: Pipeline, config: Config) -> dict[str, dict[tuple[str, str, str], float]]:
    collector = HarmwatchCollector(config, [pipeline])
    collector.publish(pipeline.engine)
    text = generate_latest(new_registry(collector)).decode()
    out: dict[str, dict[tuple[str, str, str], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "signal" in s.labels and "market" in s.labels and "severity" not in s.labels:
                key = (s.labels["policy_area"], s.labels["market"], s.labels["signal"])
                out.setdefault(s.name, {})[key] = s.value
    return out


def test_a_relative_transition_shows_value_expected_and_score_against_the_level() -> None:
    t = Transition(("youth_safety", None), "minor_exposure", "critical", "firing", AT,
                   value=6.1, threshold=5, raw=18, expected=4.2)
    assert describe(t) == ("2026-11-24T07:05:00Z FIRING    critical youth_safety "
                           "minor_exposure value=18 expected=4.2 score=6.1≥5")
    resolved = Transition(("youth_safety", "DE"), "minor_exposure", "critical", "resolved", AT,
                          value=2.5, threshold=5, raw=7, expected=4.2)
    assert describe(resolved).endswith("youth_safety/DE minor_exposure value=7 "
                                       "expected=4.2 score=2.5<5")


def test_an_absolute_transition_keeps_value_and_threshold() -> None:
    t = Transition(("youth_safety", None), "regulator_reports", "warn", "firing", AT,
                   value=12, threshold=10)
    assert describe(t) == ("2026-11-24T07:05:00Z FIRING    warn     youth_safety "
                           "regulator_reports value=12 threshold=10")


def test_a_cold_start_says_every_relative_rule_is_warming_up() -> None:
    samples = _samples(Pipeline(CONFIG), CONFIG)
    warming = samples["harmwatch_signal_warming"]
    # minor_exposure is count_surprise in the shipped config: warming, whole area and market.
    assert warming[("youth_safety", "", "minor_exposure")] == 1
    assert all(v == 1 for v in warming.values())
    assert "harmwatch_signal_score" not in samples
    assert "harmwatch_signal_expected" not in samples


def test_after_an_hour_and_a_half_the_rule_is_warm_and_shows_its_judgement() -> None:
    pipeline = Pipeline(CONFIG)
    for _, raw in Simulator(start=START, seed=3).lines(90 * 60):
        pipeline.feed(raw)
    samples = _samples(pipeline, CONFIG)
    key = ("youth_safety", "", "minor_exposure")
    assert samples["harmwatch_signal_warming"][key] == 0
    expected = samples["harmwatch_signal_expected"][key]
    score = samples["harmwatch_signal_score"][key]
    # Normal traffic: a positive expected count of decisions and a score under the page level
    # 4 (config/thresholds.yaml, youth_safety).
    assert expected > 0 and 0 <= score < 4
    # The engine's own baseline, read independently of the collector.
    judged = pipeline.engine.evaluator.judgements[(("youth_safety", None), "minor_exposure")]
    assert judged.expected == expected


def test_the_live_view_marks_warming_rules() -> None:
    out = io.StringIO()
    console = Console(file=out, width=220, color_system=None, legacy_windows=False)
    console.print(LiveView(CONFIG, Pipeline(CONFIG), None).render())
    text = out.getvalue()
    assert "warming up (~)" in text and "cannot page" in text
    assert "·~" in text


def test_a_warm_rule_exports_its_levels_in_the_signals_unit() -> None:
    from signals.significance import count_surprise

    pipeline = Pipeline(CONFIG)
    for _, raw in Simulator(start=START, seed=3).lines(90 * 60):
        pipeline.feed(raw)
    collector = HarmwatchCollector(CONFIG, [pipeline])
    collector.publish(pipeline.engine)
    text = generate_latest(new_registry(collector)).decode()
    at = {(s.labels["policy_area"], s.labels["market"], s.labels["signal"],
           s.labels["severity"]): s.value
          for family in text_string_to_metric_families(text)
          if family.name == "harmwatch_signal_effective_threshold" for s in family.samples}
    assert not [k for k in at if k[1]]  # area level only
    rule = CONFIG.rules[("youth_safety", "minor_exposure")]
    judged = pipeline.engine.evaluator.judgements[(("youth_safety", None), "minor_exposure")]
    assert judged.pooled is not None and judged.expected is not None
    for severity in ("warn", "critical"):
        k = at[("youth_safety", "", "minor_exposure", severity)]
        level = rule.level(severity)
        assert level is not None and k == int(k)
        # The smallest count at or past the level that passes the floors (3 cases, 2x).
        assert count_surprise(int(k), *judged.pooled) >= level
        assert k >= max(rule.min_samples, rule.min_ratio * judged.expected)
        below = int(k) - 1
        assert below < max(rule.min_samples, rule.min_ratio * judged.expected) or \
            count_surprise(below, *judged.pooled) < level
    assert at[("youth_safety", "", "minor_exposure", "warn")] <= \
        at[("youth_safety", "", "minor_exposure", "critical")]
