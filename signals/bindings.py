"""One (area, market) x signal rule as the evaluator reads it for every window.

A rule is a pydantic model: from compiled code each of its attributes is a generic attribute
lookup and each level a Python method call, and the evaluator asks for about ten of them per
window and severity. A binding works them out once per configuration into plain typed
fields (a reconfiguration binds anew).
"""

from __future__ import annotations

from typing import Final

from signals.config import SEVERITIES, Severity, SignalRule
from signals.definitions import SIGNALS, SignalDef
from signals.judges import exclusion_level
from signals.keys import Key


class Level:
    """One severity's level and the value that clears it."""

    __slots__ = ("clear", "level", "severity")

    def __init__(self, severity: Severity, level: float, clear: float) -> None:
        self.severity: Final = severity
        self.level: Final = level
        self.clear: Final = clear


class Binding:
    """A rule bound to one key and signal; read-only once made."""

    __slots__ = ("above", "baseline_kind", "definition", "exclude_from", "for_s", "key",
                 "levels", "min_samples", "overlap", "relative", "rule",
                 "sequential", "signal")

    def __init__(self, key: Key, signal: str, rule: SignalRule) -> None:
        self.key: Final = key
        self.signal: Final = signal
        self.rule: Final = rule
        self.definition: Final[SignalDef] = SIGNALS[signal]
        self.baseline_kind: Final = self.definition.kind == "baseline"
        self.relative: Final = rule.relative
        self.sequential: Final = rule.sequential != "none"
        self.above: Final = rule.direction == "above"
        self.min_samples: Final = rule.min_samples
        self.for_s: Final = rule.for_s
        self.overlap: Final = rule.window_s / rule.step
        self.exclude_from: Final = exclusion_level(rule)
        levels: list[Level] = []
        for severity in SEVERITIES:
            level, clear = rule.level(severity), rule.clear_level(severity)
            if level is not None and clear is not None:
                levels.append(Level(severity, level, clear))
        self.levels: Final = tuple(levels)
