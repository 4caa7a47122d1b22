"""PromQL and Go-template fragments that the rules and the dashboards share.

Written once so the dashboard panel and the alert that pages on the same quantity cannot
drift apart (the invalid share, the per-signal selectors). Names come from
:mod:`alerts.conventions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from alerts import conventions as c
from signals.config import Severity
from signals.events import STREAMS

# The rate window of the pipeline-health ratios, on the dashboard and in the alerts.
RATE_WINDOW: Final = "5m"


def sel(metric: str, labels: Mapping[str, str] | None = None,
        exclude: Mapping[str, str] | None = None, regex: Mapping[str, str] | None = None) -> str:
    """``metric{a="x",b!="y",c=~"p|q"}``; ``metric`` alone without matchers."""
    matchers = [f'{k}="{v}"' for k, v in (labels or {}).items()]
    matchers += [f'{k}!="{v}"' for k, v in (exclude or {}).items()]
    matchers += [f'{k}=~"{v}"' for k, v in (regex or {}).items()]
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def legend(*labels: str) -> str:
    """A Grafana legend format naming each label: ``{{signal}} {{severity}}``."""
    return " ".join(f"{{{{{label}}}}}" for label in labels)


def state_selector(area: str, signal: str, severity: Severity) -> str:
    return sel(c.ALERT_STATE, {c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal,
                               c.SEVERITY: severity})


def value_selector(area: str, signal: str) -> str:
    return sel(c.SIGNAL_VALUE, {c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal})


def score_selector(area: str, signal: str) -> str:
    return sel(c.SIGNAL_SCORE, {c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA, c.SIGNAL: signal})


def expected_selector(area: str, signal: str) -> str:
    return sel(c.SIGNAL_EXPECTED, {c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA,
                                   c.SIGNAL: signal})


def effective_selector(area: str, signal: str, severity: Severity) -> str:
    return sel(c.SIGNAL_EFFECTIVE_THRESHOLD, {c.POLICY_AREA: area, c.MARKET: c.WHOLE_AREA,
                                              c.SIGNAL: signal, c.SEVERITY: severity})


def threshold_selector(area: str, signal: str, severity: Severity) -> str:
    return sel(c.SIGNAL_THRESHOLD, {c.POLICY_AREA: area, c.SIGNAL: signal,
                                    c.SEVERITY: severity})


def up_selector() -> str:
    return sel(c.UP, {c.JOB: c.SCRAPE_JOB})


def invalid_ratio() -> str:
    """Invalid share of the input over :data:`RATE_WINDOW`: per contract stream, and of all
    input under ``stream="all"``.

    The total is what sees input too broken to name its stream (counted as
    ``stream="unknown"``, which has no valid counterpart to divide by); a stream or a whole
    process that receives only invalid input has no valid series at all, hence the ``or``
    fallbacks to zero instead of an empty result.
    """
    streams = "|".join(STREAMS)
    invalid = (f"sum by ({c.STREAM}) (rate({sel(c.INVALID_EVENTS_TOTAL, regex={c.STREAM: streams})}"
               f"[{RATE_WINDOW}]))")
    valid = f"sum by ({c.STREAM}) (rate({c.EVENTS_TOTAL}[{RATE_WINDOW}]))"
    per_stream = f"{invalid} / ({invalid} + ({valid} or 0 * {invalid}))"
    all_invalid = f"sum(rate({c.INVALID_EVENTS_TOTAL}[{RATE_WINDOW}]))"
    all_valid = f"sum(rate({c.EVENTS_TOTAL}[{RATE_WINDOW}]))"
    total = f"{all_invalid} / ({all_invalid} + ({all_valid} or vector(0)))"
    return f'{per_stream} or label_replace({total}, "{c.STREAM}", "{c.ALL_STREAMS}", "", "")'


def query_text(selector: str, pipe: str, fallback: str) -> str:
    """A Go template that queries ``selector`` at evaluation time and formats its first
    value with ``pipe``, or prints ``fallback`` when the series does not exist."""
    # Backquoted Go raw strings, so the PromQL double quotes need no escaping.
    return (f"{{{{ with query `{selector}` }}}}{{{{ . | first | value | {pipe} }}}}"
            f"{{{{ else }}}}{fallback}{{{{ end }}}}")
