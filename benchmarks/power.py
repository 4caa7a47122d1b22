"""Power limits: the smallest volume at which each incident can page within its duration.

For every incident the simulator injects (``--incidents FILE``, as written by ``harmwatch
simulate --incidents-out``; default the usual 8 after 1 h), on the built-in platform or a
drawn one (``--profile-seed S``): the area's expected window contents at that hour (its own
daily swing), before and during the incident, scored exactly as the engine scores them
against a clean baseline (``signals.significance``: the same tails the judges use), for the
best run of ``for``-consecutive windows the incident can fill. Bisecting a volume factor
gives the *scale* from which the weakest window of that run reaches the critical level and
every floor (``min_samples``, ``min_ratio``, ``min_lift``). The platform itself is scale 1:

- limit > 1: even an average incident of that size cannot page before it ends there; a miss
  is the power limit, not a defect;
- limit well under 1 (say < 0.5): an average incident pages; a miss is worth a look;
- around 1: half of such incidents page.

    PYTHONPATH=. python benchmarks/power.py --profile-seed 3 --incidents inc3.csv

The review backlog is different: the p95 ratio is about 6x at any volume (waits six times
longer), so its limit is the volume where a window holds ``min_samples`` timed decisions.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from signals.config import Config, SignalRule
from signals.significance import count_surprise, rate_surprise
from streams.config_files import load_config
from streams.paths import REPO_ROOT
from streams.sources.profiles import Profile, draw_profiles, during
from streams.sources.simulator import (
    DEFAULT_PROFILE,
    INCIDENT_KINDS,
    PROFILES,
    UNLISTED,
    schedule,
)

DEFAULT_SWING = 0.3  # Simulator.daily_swing for the built-in profiles
START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # harmwatch simulate's default start


@dataclass(frozen=True)
class Known:
    kind: str
    area: str
    signal: str
    start: dt.datetime
    end: dt.datetime


def swing(p: Profile, t: dt.datetime) -> float:
    """The simulator's daily swing factor of ``p`` at ``t`` (Simulator._swing)."""
    hours = t.hour + t.minute / 60 + t.second / 3600
    amplitude, peak = (DEFAULT_SWING, 20.0) if p.swing is None else (p.swing, p.peak_hour)
    return 1.0 + amplitude * math.cos((hours - peak) / 24.0 * 2 * math.pi)


Rates = tuple[float, float | None]  # (hits or count, trials or None) per minute at scale 1


def per_min(p: Profile, signal: str, factor: float) -> Rates:
    """What the simulator emits per minute, as the signal's numerator and denominator
    (signals/definitions.py: violation over violating + non-violating, appeals over
    actioned, overturned over decided)."""
    dec = p.decisions * factor
    reports = p.reports * p.report_factor * factor
    # The simulator draws escalated first, then violating: shares past 1 are capped.
    esc = min(p.escalated, 1.0)
    vio = min(p.violating, 1.0 - esc)
    if signal == "report_surge":
        return reports, None
    if signal == "regulator_reports":
        return reports * p.regulator, None
    if signal == "minor_exposure":
        return dec * vio * p.minor, None
    if signal == "violation_rate":
        return dec * vio, dec * (1 - esc)
    if signal == "escalation_rate":
        return dec * esc, dec
    if signal == "appeal_rate":
        return p.decisions * p.violating * p.appeal * factor, dec * vio
    if signal == "overturn_rate":
        decided = p.decisions * p.violating * p.appeal * factor
        return decided * p.overturn, decided
    raise ValueError(f"no power model for {signal}")


def window_score(rule: SignalRule, normal: Rates, bad: Rates, minutes_bad: float,
                 scale: float) -> float:
    """The score of one window holding ``minutes_bad`` incident minutes, as the engine
    judges it against a clean baseline of the normal rates (0 below a floor)."""
    w = rule.window_s / 60
    hn, tn = normal
    hb, tb = bad
    k = round(scale * (hb * minutes_bad + hn * (w - minutes_bad)))
    if tn is None or tb is None:
        lam = scale * hn * w
        windows = (rule.baseline_s or 0) / rule.window_s
        if k < rule.min_samples or k < rule.min_ratio * lam or k <= lam:
            return 0.0
        return count_surprise(k, lam * windows, windows)
    n = round(scale * (tb * minutes_bad + tn * (w - minutes_bad)))
    if rule.surprise_of == "count":  # appeals as a count; the rate only as the floor
        if n < rule.min_samples or n == 0 or k / n - hn / tn < rule.min_lift:
            return 0.0
        windows = (rule.baseline_s or 0) / rule.window_s
        trials = scale * tn * (rule.baseline_s or 0) / 60
        return min(count_surprise(k, scale * hn * w * windows, windows),
                   rate_surprise(min(k, n), n, trials * hn / tn, trials))
    k = min(k, n)  # the engine treats k > n (appeals of earlier decisions) as k = n
    if n < rule.min_samples or n == 0 or k / n - hn / tn < rule.min_lift:
        return 0.0
    trials = scale * tn * (rule.baseline_s or 0) / 60
    return rate_surprise(k, n, trials * hn / tn, trials)


def best_run(rule: SignalRule, normal: Rates, bad: Rates, duration_min: float,
             scale: float) -> float:
    """The best score the weakest window of a ``for`` run reaches (window ends by minute)."""
    w, f = rule.window_s / 60, rule.for_s / 60
    step = rule.step / 60

    def inside(end: float) -> float:
        return max(0.0, min(end, duration_min) - max(end - w, 0.0))

    ends = [step * i for i in range(1, int((duration_min + w) / step) + 1)]
    run = int(f / step)
    return max((min(window_score(rule, normal, bad, inside(e + step * j), scale)
                    for j in range(run + 1)) for e in ends), default=0.0)


def limit(score_at: Callable[[float], float], level: float) -> float:
    """Smallest scale (between 0.001 and 1000) at which ``score_at`` reaches ``level``."""
    lo, hi = 0.001, 1000.0
    if score_at(hi) < level:
        return math.inf
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if score_at(mid) >= level else (mid, hi)
    return hi


def incident_limit(config: Config, profiles: dict[str, Profile], drawn: bool,
                   inc: Known) -> tuple[SignalRule, float, str]:
    rule = config.rule(inc.area, inc.signal)
    assert rule is not None and rule.critical is not None
    p = profiles.get(inc.area, DEFAULT_PROFILE)
    bad_p = during(inc.kind, p) if drawn else replace(p, **INCIDENT_KINDS[inc.kind][2])
    middle = inc.start + (inc.end - inc.start) / 2
    factor = swing(p, middle)
    duration = (inc.end - inc.start).total_seconds() / 60
    if inc.signal == "review_latency_p95":
        timed = p.decisions * 0.5 * factor * rule.window_s / 60
        ratio = bad_p.latency_mean_s / p.latency_mean_s
        note = (f"p95 ratio ~{ratio:.0f}x at any volume; {timed:.1f} timed decisions per "
                f"window, needs {rule.min_samples}")
        needed = rule.min_samples / timed if ratio >= rule.critical else math.inf
        return rule, needed, note
    normal, bad = per_min(p, inc.signal, factor), per_min(bad_p, inc.signal, factor)
    scale = limit(lambda s: best_run(rule, normal, bad, duration, s), rule.critical)
    at_one = best_run(rule, normal, bad, duration, 1.0)
    unit = "per min" if normal[1] is None else "trials/min"
    volume = normal[0] if normal[1] is None else normal[1]
    note = (f"normal {volume:.3g} {unit}, best run at scale 1 scores {at_one:.2f}")
    return rule, scale, note


def read_incidents(path: Path | None) -> list[Known]:
    if path is None:
        return [Known(i.kind, i.area, INCIDENT_KINDS[i.kind][1], i.start, i.end)
                for i in schedule(START + dt.timedelta(hours=1), 8)]
    with path.open(newline="") as handle:
        return [Known(r["label"], r["policy_area"], r["signal"],
                      dt.datetime.fromisoformat(r["start"].replace("Z", "+00:00")),
                      dt.datetime.fromisoformat(r["end"].replace("Z", "+00:00")))
                for r in csv.DictReader(handle)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile-seed", type=int, help="a drawn platform (default: built-in)")
    parser.add_argument("--incidents", type=Path,
                        help="CSV from harmwatch simulate --incidents-out (default: the usual 8)")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config" / "thresholds.yaml")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="the --scale the history was simulated at (default 1)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    drawn = args.profile_seed is not None
    profiles = (draw_profiles(args.profile_seed, [*PROFILES, *UNLISTED]) if drawn
                else {**PROFILES, **UNLISTED})
    print(f"{'incident':20s} {'area / signal':36s} crit  limit   verdict at scale {args.scale:g}")
    for inc in read_incidents(args.incidents):
        rule, scale, note = incident_limit(config, profiles, drawn, inc)
        verdict = ("below the limit" if scale > args.scale else
                   "detectable" if scale < 0.5 * args.scale else "near the limit")
        print(f"{inc.kind:20s} {inc.area + ' / ' + inc.signal:36s} {rule.critical:<5g} "
              f"{scale:7.3g}  {verdict:16s} {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
