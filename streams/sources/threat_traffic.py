"""Tags and advertisers for the simulator, and the three emergent-threat incidents.

Opt-in (``Simulator(threats=ThreatTraffic(...))``): without it the simulator's output is
byte for byte what it was. Its own random stream, so turning it on leaves the base
traffic's draws as they were; only the added fields and incident events are new.

- background tags: 0 to 2 per event, drawn from a pool of ``pool`` ids with a Zipf-like
  1/k law (log-uniform index), so a few tags are common and most are seen once or twice;
  four hours at the default rates show well over 50,000 distinct tags;
- background advertisers: every event on the ``ad`` surface names one of ``advertisers``
  (same law), so the top advertiser holds a small share of any area;
- ``emerging_tag``: ``rate`` extra reports per minute carrying a tag never used before;
- ``advertiser_concentration``: ``rate`` extra violating ad decisions per minute from one
  advertiser;
- ``drop``: the area's automated decisions stop (the classifier is broken): each becomes
  a human one.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Final

from streams.backtest.incidents import KnownIncident

EMERGING_TAG: Final = "challenge-blackout-7"
CAMPAIGN_ADVERTISER: Final = "adv-campaign-0001"

# kind -> (area, the alert it should raise, extra events per minute)
THREAT_KINDS: dict[str, tuple[str, str, float]] = {
    "emerging_tag": ("youth_safety", "emerging_tag", 12.0),
    "advertiser_concentration": ("scams_fraud", "advertiser_concentration", 18.0),
    "drop": ("adult_nudity", "drop_automated", 0.0),
}


@dataclass(frozen=True)
class ThreatIncident:
    kind: str
    start: dt.datetime
    duration_s: int

    @property
    def area(self) -> str:
        return THREAT_KINDS[self.kind][0]

    @property
    def signal(self) -> str:
        return THREAT_KINDS[self.kind][1]

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)

    def active(self, t: float) -> bool:
        return self.start.timestamp() <= t < self.end.timestamp()

    def known(self) -> KnownIncident:
        return KnownIncident(self.area, self.start, self.end, self.signal, self.kind)


@dataclass
class ThreatTraffic:
    seed: int = 11
    pool: int = 200_000
    advertisers: int = 5_000
    incidents: list[ThreatIncident] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"harmwatch-threats-{self.seed}")
        self._log_pool = math.log(self.pool)
        self._log_adv = math.log(self.advertisers)

    def tags(self) -> list[str]:
        r = self.rng.random()
        n = 0 if r < 0.1 else 1 if r < 0.8 else 2
        return [f"t{int(math.exp(self.rng.random() * self._log_pool))}" for _ in range(n)]

    def advertiser(self) -> str:
        return f"adv-{int(math.exp(self.rng.random() * self._log_adv)):04d}"

    def active(self, kind: str, area: str, t: float) -> bool:
        return any(i.kind == kind and i.area == area and i.active(t) for i in self.incidents)

    def extra(self, area: str, t: float) -> list[tuple[str, float]]:
        """(kind, events this second) of each active incident that adds events."""
        return [(i.kind, THREAT_KINDS[i.kind][2] / 60.0) for i in self.incidents
                if i.area == area and i.active(t) and THREAT_KINDS[i.kind][2]]


def threat_schedule(start: dt.datetime, gap_s: int = 900,
                    duration_s: int = 1200) -> list[ThreatIncident]:
    """One incident of each kind, ``gap_s`` apart from ``start``: what ``harmwatch run``
    and ``simulate --threats`` plant (one round: the emerging tag is new only once)."""
    return [ThreatIncident(kind, start + dt.timedelta(seconds=i * gap_s), duration_s)
            for i, kind in enumerate(THREAT_KINDS)]
