"""The emergent-threat detectors' state inside an area's merge snapshot.

``AreaMerge.to_state`` knows nothing of the detectors (``signals/merge.py`` is at its size
limit), so the worker stores :func:`signals.threat_state.to_state` of the area's detector
under ``"threats"`` in the same record: one record keeps the snapshot atomic, and a
restarted worker continues each sketch, window and open episode exactly where the
snapshot left them.
"""

from __future__ import annotations

from typing import Any

from signals import threat_state
from signals.merge import AreaMerge

KEY = "threats"


def merge_state(merge: AreaMerge) -> dict[str, Any]:
    state = merge.to_state()
    if merge.threats is not None:
        state[KEY] = threat_state.to_state(merge.threats)
    return state


def restore_threats(merge: AreaMerge, state: dict[str, Any]) -> None:
    """A snapshot without detector state (written with them off) starts them afresh;
    detector state in a snapshot is ignored when they are now off."""
    saved = state.get(KEY)
    if merge.threats is not None and saved is not None:
        threat_state.restore(merge.threats, saved)
