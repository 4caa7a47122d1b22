"""Config identity: one short digest of what a config decides, not of how its files spell it.

The digest is taken over the resolved model — the taxonomy, the engine settings and every
enabled (area, signal) rule after defaults and per-area overrides merge — dumped as JSON
with sorted keys. So ``critical: 10`` and ``critical: 10.0``, ``window: 5m`` and
``window: 300s``, a step written out equal to the window and one left out, reordered keys,
comments, and an override that repeats its default all give the same digest; any level,
window, step, ``for``, clear level, baseline, engine setting or taxonomy entry moves it.
A rule's ``why`` is part of the control's documentation, so it moves the digest too.

Typed by protocols, not by ``signals.config``, so that ``signals.config`` can import this
module to fill ``Config.digest`` without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final, Protocol

DIGEST_HEX: Final = 12


class _Model(Protocol):
    """A pydantic model (the taxonomy, the engine settings)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class _Rule(_Model, Protocol):
    @property
    def step(self) -> int: ...


class ResolvedConfig(Protocol):
    """What :class:`signals.config.Config` holds once defaults and overrides merged."""

    @property
    def taxonomy(self) -> _Model: ...

    @property
    def engine(self) -> _Model: ...

    @property
    def rules(self) -> Mapping[tuple[str, str], _Rule]: ...


def normalized(taxonomy: _Model, engine: _Model,
               rules: Mapping[tuple[str, str], _Rule]) -> dict[str, Any]:
    """The JSON-able content the digest is taken over."""
    return {
        "taxonomy": taxonomy.model_dump(mode="json"),
        "engine": engine.model_dump(mode="json"),
        # A step left out means "the window"; both spell the same rule.
        "rules": {f"{area}.{signal}": rule.model_dump(mode="json") | {"step_s": rule.step}
                  for (area, signal), rule in rules.items()},
    }


def resolved_digest(taxonomy: _Model, engine: _Model,
                    rules: Mapping[tuple[str, str], _Rule]) -> str:
    """The first 12 hex digits of SHA-256 over :func:`normalized`, keys sorted."""
    text = json.dumps(normalized(taxonomy, engine, rules), sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_HEX]


def config_digest(config: ResolvedConfig) -> str:
    """:func:`resolved_digest` of a config's taxonomy, engine settings and rules."""
    return resolved_digest(config.taxonomy, config.engine, config.rules)
