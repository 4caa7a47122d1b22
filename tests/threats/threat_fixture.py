"""Simulated traffic with tags, advertisers and the three emergent-threat incidents."""

from __future__ import annotations

import datetime as dt

from streams.sources.simulator import Simulator
from streams.sources.threat_traffic import ThreatIncident, ThreatTraffic

START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def incidents(emerging_at: dt.timedelta, concentration_at: dt.timedelta,
              drop_at: dt.timedelta, duration_s: int = 1800) -> list[ThreatIncident]:
    return [ThreatIncident("emerging_tag", START + emerging_at, duration_s),
            ThreatIncident("advertiser_concentration", START + concentration_at, duration_s),
            ThreatIncident("drop", START + drop_at, duration_s)]


def threat_lines(seconds: int, planted: list[ThreatIncident], seed: int = 5,
                 scale: float = 1.0, duplicate_rate: float = 0.001) -> list[bytes]:
    sim = Simulator(start=START, seed=seed, scale=scale, duplicate_rate=duplicate_rate,
                    threats=ThreatTraffic(seed=seed, incidents=planted))
    return [line for _, line in sim.lines(seconds)]
