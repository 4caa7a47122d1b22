"""When this worker last heard that the group still counts it as a member.

A worker whose event loop never stalls can still be dropped from the group, for instance
when its client is still backing off its reconnects after a broker restart while the
coordinator's session timer runs. The group hands its partitions on, but the worker's
source readers (plain consumers, outside the group) read and snapshot on until its next
heartbeat is refused, seconds later, and what they export the new owner exports as well.
(The double exports of the long chaos runs turned out to have another cause, a stale
takeover, see :mod:`streams.kafka.assignment_gate`; this stays as a second guard.)
The stall fence therefore also holds snapshots while no heartbeat has succeeded for half
the session timeout: a member always hears back well before the coordinator could expire
it. aiokafka keeps that moment in a local variable of its heartbeat routine, so the one
method that reports a heartbeat's outcome, ``GroupCoordinator._do_heartbeat``, is wrapped
to note it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiokafka.consumer.group_coordinator import GroupCoordinator

_PATCHED = "_harmwatch_heartbeat_noted"
_last_ok: list[float | None] = [None]


def recording(original: Callable[[Any], Coroutine[Any, Any, bool]],
              clock: Callable[[], float] = time.monotonic
              ) -> Callable[[Any], Coroutine[Any, Any, bool]]:
    """``original`` wrapped to note the time of each heartbeat the coordinator accepted
    (aiokafka counts "rebalance in progress" as accepted: the member is still in)."""
    async def do_heartbeat(self: Any) -> bool:
        ok = await original(self)
        if ok:
            _last_ok[0] = clock()
        return ok
    return do_heartbeat


def apply() -> None:
    """Idempotent: the benchmark builds several apps in one process."""
    if getattr(GroupCoordinator, _PATCHED, False):
        return
    GroupCoordinator._do_heartbeat = recording(GroupCoordinator._do_heartbeat)
    setattr(GroupCoordinator, _PATCHED, True)


def age(clock: Callable[[], float] = time.monotonic) -> float | None:
    """Seconds since the last accepted heartbeat; None before the first one (joining)."""
    last = _last_ok[0]
    return None if last is None else clock() - last
