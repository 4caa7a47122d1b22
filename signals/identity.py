"""Config identity: one short digest of what a config decides, not of how its files spell it.

The digest is taken over the resolved model — the taxonomy, the engine settings and every
enabled (area, signal) rule after defaults and per-area overrides merge — dumped as JSON
with sorted keys. So ``critical: 10`` and ``critical: 10.0``, ``window: 5m`` and
``window: 300s``, a step written out equal to the window and one left out, reordered keys,
comments, and an override that repeats its default all give the same digest; any level,
window, step, ``for``, clear level, baseline, engine setting or taxonomy entry moves it.
A rule's ``why`` is part of the control's documentation, so it moves the digest too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from signals.config import Config

DIGEST_HEX: Final = 12


def _rule(rule_json: dict[str, Any], step: int) -> dict[str, Any]:
    # A step left out means "the window"; both spell the same rule.
    return rule_json | {"step_s": step}


def normalized(config: Config) -> dict[str, Any]:
    """The JSON-able content the digest is taken over (also handy to show what it covers)."""
    return {
        "taxonomy": config.taxonomy.model_dump(mode="json"),
        "engine": config.engine.model_dump(mode="json"),
        "rules": {f"{area}.{signal}": _rule(rule.model_dump(mode="json"), rule.step)
                  for (area, signal), rule in config.rules.items()},
    }


def config_digest(config: Config) -> str:
    """The first 12 hex digits of SHA-256 over :func:`normalized`, keys sorted."""
    text = json.dumps(normalized(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_HEX]
