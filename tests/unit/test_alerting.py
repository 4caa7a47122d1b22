"""The alert state machine at its boundaries, narrated with explicit event times."""

from __future__ import annotations

from signals.alerting import AlertMachine, Change


def step(m: AlertMachine, at: int, value: float | None, n: int = 100, *, level: float = 10.0,
         clear: float = 8.0, above: bool = True, min_samples: int = 5,
         for_s: int = 120) -> Change | None:
    """One window with the test rule (level 10, clear 8, above, 5 samples, for 120 s)."""
    return m.step(at, value, n, level=level, clear=clear, above=above, min_samples=min_samples,
                  for_s=for_s)


def state(m: AlertMachine) -> str:
    # Read afresh: mypy keeps ``m.state`` narrowed by an earlier assert across ``step()``.
    return m.state


def test_pending_until_for_then_firing() -> None:
    m = AlertMachine()
    assert step(m, 60, 10) == "pending"  # at the level counts as a breach
    assert step(m, 120, 12) is None and m.state == "pending"  # 60s < for (120s)
    assert step(m, 179, 12) is None and m.state == "pending"  # 119s: just before
    assert step(m, 180, 11) == "firing" and m.started_at == 180  # 120s: exactly for
    assert m.peak == 12


def test_break_in_breach_resets_pending() -> None:
    m = AlertMachine()
    step(m, 60, 15)
    assert step(m, 120, 9.99) == "cancelled" and m.state == "inactive"
    assert step(m, 180, 15) == "pending" and m.since == 180


def test_resolves_only_below_clear_level() -> None:
    m = AlertMachine()
    step(m, 0, 20, for_s=0)
    assert state(m) == "firing"
    assert step(m, 60, 9) is None  # below the level but above clear: still firing
    assert step(m, 120, 8.0) is None  # at the clear level: still firing
    assert step(m, 180, 7.99) == "resolved" and m.state == "inactive"


def test_minimum_sample_size() -> None:
    m = AlertMachine()
    assert step(m, 0, 50, n=4, for_s=0) is None and m.state == "inactive"  # just under
    assert step(m, 60, 50, n=5, for_s=0) == "firing"  # at the minimum


def test_small_sample_cancels_pending_but_does_not_resolve_firing() -> None:
    m = AlertMachine()
    step(m, 0, 50)
    assert step(m, 60, 50, n=1) == "cancelled"
    m2 = AlertMachine()
    step(m2, 0, 50, for_s=0)
    assert step(m2, 60, 50, n=1) is None and m2.state == "firing"
    assert step(m2, 120, None, n=0) is None and m2.state == "firing"  # no value: hold


def test_direction_below() -> None:
    m = AlertMachine()

    def below(at: int, value: float) -> Change | None:
        return step(m, at, value, level=0.5, clear=0.6, above=False, for_s=0)

    assert below(0, 0.55) is None
    assert below(60, 0.5) == "firing"
    assert below(120, 0.6) is None
    assert below(180, 0.61) == "resolved"
