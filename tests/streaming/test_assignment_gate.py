"""A recovery that completes after its assignment was revoked is not taken over (the long
chaos run's +1,469: docs/chaos.md, streams/kafka/assignment_gate.py)."""

from __future__ import annotations

from streams.kafka.assignment_gate import AssignmentGate


def test_the_first_assignment_is_taken() -> None:
    assert AssignmentGate().current(1)


def test_a_completion_of_the_revoked_generation_is_stale() -> None:
    gate = AssignmentGate()
    assert gate.current(22)      # generation 22 assigned, its recovery under way
    gate.revoked(22)             # a newer rebalance began before the recovery completed
    assert not gate.current(22)  # generation 22's recovery completes: not ours any more
    assert gate.current(23)      # generation 23's assignment is


def test_each_revoke_moves_the_gate_on() -> None:
    gate = AssignmentGate()
    for generation in range(1, 6):
        assert gate.current(generation)
        gate.revoked(generation)
        assert not gate.current(generation)
