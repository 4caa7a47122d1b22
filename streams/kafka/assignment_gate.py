"""Takes a partition assignment over only if no newer rebalance has revoked it.

Faust signals ``on_rebalance_complete`` when a table recovery completes and checks the
consumer generation only afterwards, so the recovery of an assignment that a newer
rebalance has already revoked still signals it. In the long chaos run a worker took over
partitions of generation 22 a quarter second after generation 23 had revoked them (its
recovery was still "Starting standby partitions" when the next rebalance began), read,
snapshotted and exported them for ten seconds while their new owner did the same, and
1,469 events were counted twice (docs/chaos.md). The revoke notes the generation it
revokes; a completion whose generation is that one is stale.
"""

from __future__ import annotations


class AssignmentGate:
    def __init__(self) -> None:
        self._revoked: int | None = None

    def revoked(self, generation: int) -> None:
        """A rebalance began: the assignment of ``generation`` is no longer ours."""
        self._revoked = generation

    def current(self, generation: int) -> bool:
        """Whether an assignment completing now, at ``generation``, is still ours."""
        return generation != self._revoked
