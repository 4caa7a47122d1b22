"""No snapshot from a worker that may have been replaced while it was frozen.

A worker stopped for longer than the group's session timeout (SIGSTOP, a VM pause) has been
dropped from the group, and its partitions handed to another worker that restored their
last snapshot. When it is thawed, its event loop runs on before its consumer has heard of
the eviction: a snapshot it took then, and the counts it would export with it, would cover
offsets the new owner reads and counts again. Such a stall shows as a gap in the loop's
clock (``time.monotonic`` keeps running while a process is stopped): after a gap of half
the session timeout, the worker writes no source snapshot for ``hold_s``, long enough for
its consumer to learn of a rebalance and revoke (the revoke's snapshot is skipped too, the
state dropped). Without a rebalance the fence lifts and snapshots resume; the only cost is
that a crash inside the fence re-reads a little more. A snapshot asks before it waits for
its announcements and again just before it is written, so a stop during the waits counts.

The fence also holds while no heartbeat has been accepted for half the session timeout
(:mod:`streams.kafka.heartbeats`): a worker the group dropped without any stall (after a
broker restart) must not snapshot and export what its successor reads again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from streams.kafka import heartbeats

log = logging.getLogger("harmwatch.worker")


class StallFence:
    def __init__(self, session_timeout_s: float, heartbeat_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 heartbeat_age: Callable[[], float | None] = heartbeats.age) -> None:
        """``heartbeat_age``: seconds since the group last accepted a heartbeat of this
        worker (None: not joined yet), see :mod:`streams.kafka.heartbeats`."""
        self.gap_s = session_timeout_s / 2
        self.hold_s = session_timeout_s + 2 * heartbeat_s
        self.clock = clock
        self.heartbeat_age = heartbeat_age
        self._last: float | None = None  # the first tick starts the watch: start-up is no stall
        self._until = float("-inf")
        self._unheard = False  # blocked for want of a heartbeat (logged once per spell)

    def tick(self) -> None:
        """Called often (a timer, every snapshot): notes a stall of the loop."""
        now = self.clock()
        gap = 0.0 if self._last is None else now - self._last
        self._last = now
        if gap > self.gap_s:
            self._until = now + self.hold_s
            log.warning("event loop stalled for %.1fs (stopped or paused?): no source "
                        "snapshot for %.0fs, in case the group replaced this worker",
                        gap, self.hold_s)

    def blocked(self) -> bool:
        self.tick()
        if self.clock() < self._until:
            return True
        age = self.heartbeat_age()
        unheard = age is not None and age > self.gap_s
        if unheard != self._unheard:
            self._unheard = unheard
            if unheard:
                log.warning("no heartbeat accepted for %.1fs: no source snapshot until one "
                            "is, in case the group dropped this worker", age)
            else:
                log.info("heartbeats accepted again: source snapshots resume")
        return unheard
