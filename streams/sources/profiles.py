"""Random platform profiles: every area's base rates drawn from a seed.

The built-in rates (``simulator.PROFILES``) describe one platform, the one the default
thresholds were written against. A drawn profile describes a platform nobody tuned for:
volumes spread over three orders of magnitude between areas, review latency from minutes
to many hours, other violation, escalation, appeal and overturn rates, another regulator
share and each area's own daily swing. Incidents on a drawn profile change rates relative
to the area's own (an overturn wave multiplies the overturn odds), so they mean the same
at any scale.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Profile:
    """One area's traffic at the daily mean (per minute) and its shares and rates."""

    reports: float  # per minute
    decisions: float
    violating: float = 0.30  # share of decisions
    escalated: float = 0.05
    minor: float = 0.004  # share of violating decisions that reached minors
    regulator: float = 0.006  # share of reports from regulators or trusted flaggers
    appeal: float = 0.10  # appeals filed per enforced decision
    overturn: float = 0.12
    latency_mean_s: float = 1200.0
    report_factor: float = 1.0
    swing: float | None = None  # daily swing amplitude; None: the simulator's own
    peak_hour: float = 20.0  # UTC hour of the daily peak

# Reports per minute at the daily mean: the quietest area sits near the low end, the busiest
# near the high end (stratified, so any seed spans at least 100x; see draw_profiles).
VOLUME_RANGE = (0.3, 300.0)
LATENCY_MEAN_RANGE_S = (60.0, 4 * 3600.0)  # exponential waits: p95 is 3x the mean


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def draw_profiles(seed: int, areas: Iterable[str]) -> dict[str, Profile]:
    """One profile per area, the same for the same seed and area list.

    Volumes are stratified on a log scale: with n areas, each gets its own 1/n slice of the
    three decades (in a random order) and a random place inside it, so the quietest and
    busiest areas are always at least 3(n-2)/n decades apart (100x for n >= 6) instead of
    that holding only usually.
    """
    rng = random.Random(f"harmwatch-profile-{seed}")
    names = list(areas)
    slots = list(range(len(names)))
    rng.shuffle(slots)
    low, high = (math.log10(v) for v in VOLUME_RANGE)
    out: dict[str, Profile] = {}
    for name, slot in zip(names, slots, strict=True):
        reports = 10 ** (low + (high - low) * (slot + rng.random()) / len(names))
        out[name] = Profile(
            reports=round(reports, 3),
            decisions=round(reports * rng.uniform(0.5, 1.5), 3),
            violating=round(rng.uniform(0.10, 0.50), 4),
            escalated=round(rng.uniform(0.01, 0.10), 4),
            minor=round(_log_uniform(rng, 0.001, 0.03), 5),
            regulator=round(_log_uniform(rng, 0.002, 0.05), 5),
            appeal=round(rng.uniform(0.03, 0.30), 4),
            overturn=round(rng.uniform(0.04, 0.35), 4),
            latency_mean_s=round(_log_uniform(rng, *LATENCY_MEAN_RANGE_S), 1),
            swing=round(rng.uniform(0.0, 0.6), 3),
            peak_hour=round(rng.uniform(0.0, 24.0), 2),
        )
    return out


def odds(p: float, factor: float) -> float:
    """``p`` with its odds multiplied by ``factor``: a big relative change that stays a
    probability (0.12 x 30 -> 0.80, 0.30 x 30 -> 0.93)."""
    return factor * p / (1.0 - p + factor * p)


# How each incident kind changes an area's own rates. The factors reproduce the built-in
# incidents at the built-in rates (overturn 0.12 -> 0.80, regulator share 0.006 -> 0.15, ...).
RELATIVE_CHANGES: dict[str, Callable[[Profile], dict[str, float]]] = {
    "minor_exposure": lambda p: {"minor": odds(p.minor, 25.0),
                                 "violating": odds(p.violating, 2.3)},
    "report_surge": lambda p: {"report_factor": p.report_factor * 4.0},
    "overturn_wave": lambda p: {"overturn": odds(p.overturn, 30.0)},
    "regulator_attention": lambda p: {"regulator": odds(p.regulator, 30.0)},
    "violation_wave": lambda p: {"violating": odds(p.violating, 13.0)},
    "review_backlog": lambda p: {"latency_mean_s": p.latency_mean_s * 6.0},
    "escalation_wave": lambda p: {"escalated": odds(p.escalated, 12.7)},
    "appeal_wave": lambda p: {"appeal": odds(p.appeal, 21.0)},
}


def during(kind: str, profile: Profile) -> Profile:
    """``profile`` while an incident of ``kind`` is active on a drawn platform."""
    return replace(profile, **RELATIVE_CHANGES[kind](profile))


def describe(profiles: dict[str, Profile]) -> dict[str, dict[str, Any]]:
    """The drawn profile as plain data (for ``--profile-out``), per area."""
    return {area: {k: v for k, v in asdict(p).items() if k != "report_factor"}
            for area, p in profiles.items()}


def summary_lines(profiles: dict[str, Profile]) -> list[str]:
    out = []
    for area, p in profiles.items():
        swing = f"swing ±{(p.swing or 0) * 100:.0f}% peak {p.peak_hour:04.1f}h"
        out.append(f"profile {area}: {p.reports:.3g} reports/min, {p.decisions:.3g} "
                   f"decisions/min, violating {p.violating:.2f}, escalated {p.escalated:.3f}, "
                   f"minor {p.minor:.4f}, regulator {p.regulator:.4f}, appeal "
                   f"{p.appeal:.2f}, overturn {p.overturn:.2f}, review latency mean "
                   f"{p.latency_mean_s / 60:.0f} min, {swing}")
    return out
