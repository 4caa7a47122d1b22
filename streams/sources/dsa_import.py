"""Import EU DSA Transparency Database statements of reasons as harmwatch decision events.

Each statement of reason (SoR) is one real moderation decision that restricted content, so
it becomes a ``decision`` with verdict ``violating``. The mapping keeps only what the event
contract carries: no platform content ids or user ids are copied (the contract's
``content_id`` stays empty), and the SoR uuid becomes the ``event_id`` so the database's
own duplicates dedupe as any redelivery would.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

CATEGORY_TO_AREA: Final = {
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": "youth_safety",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT": "adult_nudity",
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR": "sexual_exposure",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS": "user_privacy",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD": "scams_fraud",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH": "hate_speech",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE": "harassment",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN": "harassment",
    "STATEMENT_CATEGORY_SELF_HARM": "dangerous_acts",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY": "dangerous_acts",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS": "regulated_goods",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS": "regulated_goods",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS": "misinformation",
    "STATEMENT_CATEGORY_VIOLENCE": "violent_extremism",
}
_DETECTION: Final = {"AUTOMATED_DECISION_FULLY": "automated",
                     "AUTOMATED_DECISION_PARTIALLY": "hybrid",
                     "AUTOMATED_DECISION_NOT_AUTOMATED": "human"}
_SOURCE: Final = {"SOURCE_ARTICLE_16": "user_report", "SOURCE_TRUSTED_FLAGGER": "trusted_flagger",
                  "SOURCE_VOLUNTARY": "proactive"}
_SURFACE: Final = {"CONTENT_TYPE_PRODUCT": "shop", "CONTENT_TYPE_VIDEO": "video",
                   "CONTENT_TYPE_TEXT": "comment", "CONTENT_TYPE_IMAGE": "other"}


def _list(cell: str) -> list[str]:
    if not cell:
        return []
    try:
        value = json.loads(cell)
    except json.JSONDecodeError:
        return [cell]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _area(category: str) -> str:
    # Categories without a home in the taxonomy keep a readable id; the engine counts them
    # under `other`.
    return CATEGORY_TO_AREA.get(
        category, category.removeprefix("STATEMENT_CATEGORY_").lower()[:64] or "unknown")


def _action(row: dict[str, str]) -> str:
    if row.get("decision_account") or row.get("decision_provision"):
        return "suspend_account"
    if row.get("decision_monetary"):
        return "demonetize"
    visibility = " ".join(_list(row.get("decision_visibility", "")))
    if "CONTENT_REMOVED" in visibility:
        return "remove"
    if "AGE_RESTRICTED" in visibility:
        return "age_restrict"
    return "restrict" if visibility else "none"


def _timestamp(cell: str) -> str:
    # The database publishes naive "YYYY-MM-DD HH:MM:SS" in UTC.
    parsed = dt.datetime.strptime(cell, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    return parsed.isoformat().replace("+00:00", "Z")


def to_event(row: dict[str, str]) -> dict[str, object]:
    """One SoR row as a decision event; raises ValueError naming the column it cannot map."""
    uuid = row.get("uuid", "").strip()
    if not uuid:
        raise ValueError("uuid")
    try:
        occurred = _timestamp(row.get("created_at", ""))
    except ValueError:
        raise ValueError("created_at") from None
    category = row.get("category", "")
    scope = _list(row.get("territorial_scope", ""))
    content_types = _list(row.get("content_type", ""))
    tags = [t.removeprefix("KEYWORD_").lower()[:64]
            for t in _list(row.get("category_specification", "")) if t][:16]
    event: dict[str, object] = {
        "event_id": f"dsa-{uuid}"[:128],
        "type": "decision",
        "occurred_at": occurred,
        "policy_area": _area(category),
        "surface": _SURFACE.get(content_types[0], "other") if content_types else "other",
        "verdict": "violating",
        "action": _action(row),
        "detection": _DETECTION.get(row.get("automated_decision", ""), "human"),
        "source": _SOURCE.get(row.get("source_type", ""), "proactive"),
        # Decisions under the protection-of-minors category concern content that reached or
        # targeted minors, which is what minor_exposure counts.
        "minor_audience": category == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "tags": tags,
    }
    if len(scope) == 1 and len(scope[0]) == 2:
        event["market"] = scope[0]
    return event


def convert(paths: Iterable[Path]) -> Iterator[tuple[dict[str, object] | None, str | None]]:
    """(event, None) per mappable row, (None, column) per row that cannot be mapped."""
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    yield to_event(row), None
                except ValueError as exc:
                    yield None, str(exc)
