"""Which config changes a running engine can take: thresholds yes, the counted state's shape no."""

from __future__ import annotations

from signals.config import Config


def reload_blocker(old: Config, new: Config) -> str | None:
    """Why ``new`` cannot replace ``old`` in a running engine, or None if it can."""
    if new.pane_s != old.pane_s:
        return (f"the pane would change from {old.pane_s}s to {new.pane_s}s (windows and steps "
                "changed their common divisor); restart to apply")
    if new.engine != old.engine:
        return "engine settings (lateness, dedupe, markets) changed; restart to apply"
    if new.areas != old.areas:
        return "the taxonomy's areas changed; restart to apply"
    return None
