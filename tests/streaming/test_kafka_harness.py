"""The metric look-up of the streaming tests fails loudly on a name that is not exposed."""

from __future__ import annotations

import pytest

from tests.streaming.kafka_harness import MetricNotExposed, metric_sum, wait_until

# The shape prometheus_client writes for the worker's lateness counter (hand-written).
EXPOSITION = """\
# HELP harmwatch_merge_late_panes_total Partial panes that reached the merge late
# TYPE harmwatch_merge_late_panes_total counter
harmwatch_merge_late_panes_total 91.0
# HELP harmwatch_events_total Events by outcome
# TYPE harmwatch_events_total counter
harmwatch_events_total{outcome="counted",policy_area="a",stream="report"} 7.0
harmwatch_events_total{outcome="counted",policy_area="b",stream="report"} 5.0
harmwatch_events_total{outcome="late",policy_area="a",stream="report"} 1.0
# HELP harmwatch_consumer_lag Messages not yet processed
# TYPE harmwatch_consumer_lag gauge
# HELP harmwatch_invalid_events_total Invalid events by stream and reason
# TYPE harmwatch_invalid_events_total counter
"""
# The same counters as OpenMetrics declares them: the family name without _total.
OPENMETRICS = """\
# TYPE harmwatch_merge_late_panes counter
harmwatch_merge_late_panes_total 91.0
# TYPE harmwatch_log_truncated_messages counter
"""


def test_a_counter_asked_without_total_is_not_read_as_zero() -> None:
    with pytest.raises(MetricNotExposed, match="harmwatch_merge_late_panes"):
        metric_sum(EXPOSITION, "harmwatch_merge_late_panes")
    assert metric_sum(EXPOSITION, "harmwatch_merge_late_panes_total") == 91


def test_openmetrics_declarations_expose_total_only() -> None:
    assert metric_sum(OPENMETRICS, "harmwatch_merge_late_panes_total") == 91
    assert metric_sum(OPENMETRICS, "harmwatch_log_truncated_messages_total") == 0
    for name in ("harmwatch_merge_late_panes", "harmwatch_log_truncated_messages"):
        with pytest.raises(MetricNotExposed):
            metric_sum(OPENMETRICS, name)


def test_labels_filter_and_unknown_names_raise() -> None:
    assert metric_sum(EXPOSITION, "harmwatch_events_total") == 13
    assert metric_sum(EXPOSITION, "harmwatch_events_total", outcome="counted") == 12
    assert metric_sum(EXPOSITION, "harmwatch_events_total", outcome="duplicate") == 0
    assert metric_sum(EXPOSITION, "harmwatch_consumer_lag") == 0  # declared, no samples
    assert metric_sum(EXPOSITION, "harmwatch_invalid_events_total") == 0  # no samples yet
    with pytest.raises(MetricNotExposed):
        metric_sum(EXPOSITION, "harmwatch_event_total")
    with pytest.raises(MetricNotExposed, match="empty exposition"):
        metric_sum("", "harmwatch_events_total")


def test_polling_retries_a_name_not_exposed_yet_and_reports_it() -> None:
    texts = iter(["", EXPOSITION])
    assert wait_until(lambda: metric_sum(next(texts), "harmwatch_events_total"), 5, "x",
                      interval=0.01) == 13
    with pytest.raises(AssertionError, match="is not exposed"):
        wait_until(lambda: metric_sum(EXPOSITION, "harmwatch_merge_late_panes"), 0.2,
                   "late panes", interval=0.05)
