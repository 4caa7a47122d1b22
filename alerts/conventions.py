"""Every metric and label name harmwatch exposes or queries, defined once.

The exposition (:mod:`alerts.metrics`), the generated rules and the dashboards all import
these, so a rename is one edit and a typo is a NameError instead of a rule that silently
matches nothing (the model is Sloth's conventions file). Renaming a value here is a breaking
change for every saved query, silence and recording rule outside this repository.

Counters are declared by their family name (``prometheus_client`` appends ``_total`` on
exposition); queries must use the ``*_TOTAL`` spelling, which is what Prometheus stores.
"""

from __future__ import annotations

from typing import Final

from signals.alerting import STATE_CODES
from signals.ingest import COUNTED

# --- label names ----------------------------------------------------------------------------

POLICY_AREA: Final = "policy_area"
MARKET: Final = "market"
SIGNAL: Final = "signal"
SEVERITY: Final = "severity"
STREAM: Final = "stream"
OUTCOME: Final = "outcome"
REASON: Final = "reason"
TOPIC: Final = "topic"
PARTITION: Final = "partition"
DIGEST: Final = "digest"
# The annotation every generated alert carries: the digest of the config its rules were
# generated from (the running process's digest is harmwatch_config_info{digest}).
CONFIG_DIGEST_ANNOTATION: Final = "config_digest"
TABLE: Final = "table"
# Emergent threats: the tag of the bounded top-k series only; never an advertiser or user.
TAG: Final = "tag"
MEASURE: Final = "measure"

# Labels the generated alerts carry for Alertmanager's routes (deploy/alertmanager).
TEAM: Final = "team"
ROUTE: Final = "route"
ENGINEERING_ROUTE: Final = "engineering"

# Labels Prometheus itself attaches: the scrape job (prometheus.yml's job_name), the target,
# and those of the synthetic ALERTS series.
JOB: Final = "job"
INSTANCE: Final = "instance"
ALERTNAME: Final = "alertname"
ALERTSTATE: Final = "alertstate"
SCRAPE_JOB: Final = "harmwatch"
UP: Final = "up"
ALERTS: Final = "ALERTS"

# --- label sets of the series ---------------------------------------------------------------

SIGNAL_LABELS: Final = (POLICY_AREA, MARKET, SIGNAL)
THRESHOLD_LABELS: Final = (POLICY_AREA, SIGNAL, SEVERITY)
ALERT_STATE_LABELS: Final = (POLICY_AREA, MARKET, SIGNAL, SEVERITY)
EFFECTIVE_LABELS: Final = (POLICY_AREA, MARKET, SIGNAL, SEVERITY)
EVENTS_LABELS: Final = (STREAM, POLICY_AREA, OUTCOME)
INVALID_LABELS: Final = (STREAM, REASON)
LAG_LABELS: Final = (TOPIC, PARTITION)
SNAPSHOT_LABELS: Final = (TABLE,)
THREAT_STATE_LABELS: Final = (POLICY_AREA, SIGNAL)
TOP_TAG_LABELS: Final = (POLICY_AREA, STREAM, TAG)
TOP_SHARE_LABELS: Final = (POLICY_AREA, MEASURE)

# --- metric names ---------------------------------------------------------------------------

SIGNAL_VALUE: Final = "harmwatch_signal_value"
SIGNAL_SAMPLES: Final = "harmwatch_signal_samples"
SIGNAL_WINDOW_END: Final = "harmwatch_signal_window_end_timestamp_seconds"
SIGNAL_THRESHOLD: Final = "harmwatch_signal_threshold"
# Relative rules (signals/judges.py): the score the levels apply to, the baseline's expected
# value in the signal's own unit, and 1 while the baseline is still warming up (cannot page).
SIGNAL_SCORE: Final = "harmwatch_signal_score"
SIGNAL_EXPECTED: Final = "harmwatch_signal_expected"
SIGNAL_WARMING: Final = "harmwatch_signal_warming"
# A relative rule's level translated into the signal's own unit for the last window
# (signals/effective.py): "12 reports", not "surprise 5".
SIGNAL_EFFECTIVE_THRESHOLD: Final = "harmwatch_signal_effective_threshold"
SIGNAL_CLEAR_THRESHOLD: Final = "harmwatch_signal_clear_threshold"
ALERT_STATE: Final = "harmwatch_alert_state"

EVENTS: Final = "harmwatch_events"
EVENTS_TOTAL: Final = f"{EVENTS}_total"
INVALID_EVENTS: Final = "harmwatch_invalid_events"
INVALID_EVENTS_TOTAL: Final = f"{INVALID_EVENTS}_total"
LAST_EVENT_RECEIVED: Final = "harmwatch_last_event_received_timestamp_seconds"
WATERMARK: Final = "harmwatch_watermark_timestamp_seconds"
DEDUPE_IDS: Final = "harmwatch_dedupe_ids"
CONFIG_INFO: Final = "harmwatch_config_info"

# Emergent-threat detectors (alerts/threat_metrics.py): open episodes per area and kind, the
# top-k tags of each area's current window, the top advertisers' share (no id on any).
THREAT_ALERTS_OPEN: Final = "harmwatch_threat_alerts_open"
EMERGING_TAG_COUNT: Final = "harmwatch_emerging_tag_events"
ADVERTISER_TOP_SHARE: Final = "harmwatch_advertiser_top_share"
THREAT_PANE_OVERFLOW: Final = "harmwatch_threat_pane_overflow"
THREAT_PANE_OVERFLOW_TOTAL: Final = f"{THREAT_PANE_OVERFLOW}_total"
# Drops: the window's count over its reference (seasonal or trailing), and the reference.
DROP_RATIO: Final = "harmwatch_drop_ratio"
DROP_EXPECTED: Final = "harmwatch_drop_expected_events"

# Exposed by the Kafka worker only (streams/kafka/worker_metrics.py).
CONSUMER_LAG: Final = "harmwatch_consumer_lag"
MERGE_LATE_PANES: Final = "harmwatch_merge_late_panes"
MERGE_LATE_PANES_TOTAL: Final = f"{MERGE_LATE_PANES}_total"
LOG_TRUNCATED: Final = "harmwatch_log_truncated_messages"
LOG_TRUNCATED_TOTAL: Final = f"{LOG_TRUNCATED}_total"
# By table (ingest-state, merge-state): snapshots over the record limit, not written.
SNAPSHOTS_REFUSED: Final = "harmwatch_snapshots_refused"
SNAPSHOTS_REFUSED_TOTAL: Final = f"{SNAPSHOTS_REFUSED}_total"
# Source snapshots whose write was under way when the worker's event loop stalled.
SNAPSHOT_WRITES_STALLED: Final = "harmwatch_snapshot_writes_stalled"
SNAPSHOT_WRITES_STALLED_TOTAL: Final = f"{SNAPSHOT_WRITES_STALLED}_total"

# --- values with a meaning ------------------------------------------------------------------

OUTCOME_COUNTED: Final = COUNTED
# The invalid-share alert's series over all input, beside one per contract stream.
ALL_STREAMS: Final = "all"
# A whole-area series has no market; Prometheus stores market="" as "label absent".
WHOLE_AREA: Final = ""
# The harmwatch_alert_state code that pages (the engine decides the codes).
STATE_FIRING: Final = STATE_CODES["firing"]
