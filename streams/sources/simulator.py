"""Built-in traffic simulator: the three streams for every area, a daily swing, incidents.

Rates are per minute at the daily mean and were chosen so that normal traffic stays well
inside the default thresholds (see config/thresholds.yaml) while each injected incident
breaks one signal of one area clearly. It yields raw JSON lines, so the simulator feeds the
same decode path as a file or Kafka, including a trickle of duplicates, late and invalid
messages when asked.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import orjson

from streams.backtest.incidents import KnownIncident
from streams.sources.profiles import Profile, during
from streams.sources.threat_traffic import CAMPAIGN_ADVERTISER, EMERGING_TAG, ThreatTraffic

PROFILES: dict[str, Profile] = {
    "youth_safety": Profile(60, 50, minor=0.015),
    "adult_nudity": Profile(120, 220),
    "sexual_exposure": Profile(30, 25),
    "body_image": Profile(40, 30),
    "user_privacy": Profile(25, 20),
    "scams_fraud": Profile(100, 90),
    "hate_speech": Profile(70, 60),
    "harassment": Profile(80, 70),
    "dangerous_acts": Profile(25, 20),
    "regulated_goods": Profile(40, 35),
    "misinformation": Profile(50, 40),
    "violent_extremism": Profile(10, 8),
}
# Area ids producers send that are not in the taxonomy: they must land under `other`.
UNLISTED = {"spam_misc": Profile(4, 4)}
DEFAULT_PROFILE = Profile(10, 8)


@dataclass(frozen=True)
class Incident:
    """A change to one area's traffic that should page on ``signal``."""

    kind: str
    area: str
    signal: str
    start: dt.datetime
    duration_s: int

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)

    def active(self, t: dt.datetime) -> bool:
        return self.start <= t < self.end

    def known(self) -> KnownIncident:
        """This incident as a row of an incidents file (the answer key of a backtest)."""
        return KnownIncident(self.area, self.start, self.end, self.signal, self.kind)


# kind -> (area, signal, how the profile changes)
INCIDENT_KINDS: dict[str, tuple[str, str, dict[str, float]]] = {
    "minor_exposure": ("youth_safety", "minor_exposure", {"minor": 0.35, "violating": 0.5}),
    "report_surge": ("body_image", "report_surge", {"report_factor": 4.0}),
    "overturn_wave": ("adult_nudity", "overturn_rate", {"overturn": 0.8}),
    "regulator_attention": ("scams_fraud", "regulator_reports", {"regulator": 0.15}),
    "violation_wave": ("user_privacy", "violation_rate", {"violating": 0.85}),
    "review_backlog": ("harassment", "review_latency_p95", {"latency_mean_s": 7200.0}),
    "escalation_wave": ("hate_speech", "escalation_rate", {"escalated": 0.4}),
    "appeal_wave": ("scams_fraud", "appeal_rate", {"appeal": 0.7}),
}


def schedule(start: dt.datetime, count: int, every_s: int = 360, duration_s: int = 600,
             first_after_s: int = 120) -> list[Incident]:
    """``count`` incidents cycling through every kind, one starting every ``every_s``."""
    kinds = list(INCIDENT_KINDS)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        area, signal, _ = INCIDENT_KINDS[kind]
        begin = start + dt.timedelta(seconds=first_after_s + i * every_s)
        out.append(Incident(kind, area, signal, begin, duration_s))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation; exact sampling gets slow and gains nothing here
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


MARKETS = ("DE", "FR", "IT", "ES", "NL", "PL", "SE", "IE")
SURFACES = ("ad", "video", "live", "comment", "profile", "shop")
INVALID_SAMPLES = (
    b'{"event_id": "bad-1", "type": "report", "occurred_at": "2026-11-24 10:00", ',
    b'["not", "an", "object"]',
    b'{"event_id": "bad-2", "type": "decision", "policy_area": "youth_safety"}',
    b'{"event_id": "bad-3", "type": "report", "occurred_at": "2026-11-24T10:00:00", '
    b'"policy_area": "youth_safety", "reporter": "user"}',
)


@dataclass
class Simulator:
    """Deterministic for a seed. Event time starts at ``start`` and advances one second per
    step; ``lines`` yields ``(event time of arrival, raw JSON line)``."""

    start: dt.datetime
    seed: int = 7
    incidents: list[Incident] = field(default_factory=list)
    jitter_s: float = 3.0
    duplicate_rate: float = 0.001
    invalid_rate: float = 0.0
    daily_swing: float = 0.3
    scale: float = 1.0
    # Drawn base rates (streams.sources.profiles.draw_profiles) instead of the built-in
    # ones; incidents then change each area's rates relative to its own.
    areas: dict[str, Profile] | None = None
    # Tags, advertisers and the emergent-threat incidents (off: output unchanged).
    threats: ThreatTraffic | None = None
    _seq: int = 0

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._rng = random.Random(self.seed)
        self._areas = dict(self.areas) if self.areas else {**PROFILES, **UNLISTED}

    def profile(self, area: str, t: dt.datetime) -> Profile:
        base = self._areas.get(area, DEFAULT_PROFILE)
        for incident in self.incidents:
            if incident.area == area and incident.active(t):
                if self.areas:
                    base = during(incident.kind, base)
                else:
                    base = replace(base, **INCIDENT_KINDS[incident.kind][2])
        return base

    def _swing(self, t: dt.datetime, amplitude: float | None = None,
               peak_hour: float = 20.0) -> float:
        hours = t.hour + t.minute / 60 + t.second / 3600
        # Peak in the evening (20:00 UTC), trough in the early morning, unless drawn.
        swing = self.daily_swing if amplitude is None else amplitude
        return 1.0 + swing * math.cos((hours - peak_hour) / 24.0 * 2 * math.pi)

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"sim-{prefix}-{self.seed}-{self._seq}"

    def lines(self, duration_s: int) -> Iterator[tuple[float, bytes]]:
        rng = self._rng
        t0 = self.start.timestamp()
        recent: list[bytes] = []
        for second in range(int(duration_s)):
            now = t0 + second
            when = dt.datetime.fromtimestamp(now, dt.UTC)
            factor = self._swing(when) * self.scale / 60.0
            batch: list[bytes] = []
            for area in self._areas:
                p = self.profile(area, when)
                own = factor if p.swing is None else (
                    self._swing(when, p.swing, p.peak_hour) * self.scale / 60.0)
                batch.extend(self._second(rng, area, p, now, own))
            rng.shuffle(batch)
            for line in batch:
                yield now + 1, line
                if rng.random() < self.duplicate_rate:
                    recent.append(line)
                if self.invalid_rate and rng.random() < self.invalid_rate:
                    yield now + 1, INVALID_SAMPLES[rng.randrange(len(INVALID_SAMPLES))]
            for dup in recent:
                yield now + 1, dup  # a redelivery: same event_id, must count once
            recent.clear()

    def _second(self, rng: random.Random, area: str, p: Profile, now: float,
                factor: float) -> Iterator[bytes]:
        def base(kind: str) -> dict[str, object]:
            t = now + rng.random() - rng.random() * self.jitter_s
            event: dict[str, object] = {
                "event_id": self._next_id(kind[0]),
                "type": kind,
                "occurred_at": _stamp(t),
                "policy_area": area,
                "market": MARKETS[rng.randrange(len(MARKETS))],
                "surface": SURFACES[rng.randrange(len(SURFACES))],
            }
            if threats is not None:
                tags = threats.tags()
                if tags:
                    event["tags"] = tags
                if event["surface"] == "ad":
                    event["advertiser_id"] = threats.advertiser()
            return event

        threats = self.threats
        if threats is not None:
            yield from self._threat_events(threats, rng, area, now, base)
        for _ in range(_poisson(rng, p.reports * p.report_factor * factor)):
            e = base("report")
            e["reporter"] = "regulator" if rng.random() < p.regulator else (
                "user" if rng.random() < 0.95 else "advertiser")
            yield orjson.dumps(e)
        for _ in range(_poisson(rng, p.decisions * factor)):
            e = base("decision")
            r = rng.random()
            verdict = ("escalated" if r < p.escalated else
                       "violating" if r < p.escalated + p.violating else "non_violating")
            e["verdict"] = verdict
            e["detection"] = ("automated", "human", "hybrid")[rng.randrange(3)]
            if verdict == "violating":
                e["action"] = "reject_ad" if e["surface"] == "ad" else "remove"
                e["minor_audience"] = rng.random() < p.minor
                e["severity"] = rng.randint(1, 4)
            if threats is not None and e["detection"] == "automated" and threats.active(
                    "drop", area, now):
                e["detection"] = "human"  # the classifier is down; people take over
            if rng.random() < 0.5:
                e["source"] = "user_report"
                occurred = dt.datetime.fromisoformat(str(e["occurred_at"]))
                waited = rng.expovariate(1.0 / p.latency_mean_s)
                e["reported_at"] = _stamp(occurred.timestamp() - waited)
            yield orjson.dumps(e)
        for _ in range(_poisson(rng, p.decisions * p.violating * p.appeal * factor)):
            e = base("appeal")
            e["decision_id"] = self._next_id("d")
            e["stage"] = "filed"
            yield orjson.dumps(e)
        for _ in range(_poisson(rng, p.decisions * p.violating * p.appeal * factor)):
            e = base("appeal")
            e["decision_id"] = self._next_id("d")
            e["stage"] = "decided"
            e["outcome"] = "overturned" if rng.random() < p.overturn else "upheld"
            yield orjson.dumps(e)

    def _threat_events(self, threats: ThreatTraffic, rng: random.Random, area: str,
                       now: float, base: Callable[[str], dict[str, object]]) -> Iterator[bytes]:
        """The extra events of the emerging-tag and concentration incidents."""
        for kind, rate in threats.extra(area, now):
            for _ in range(_poisson(threats.rng, rate)):
                if kind == "emerging_tag":
                    e = base("report")
                    e["reporter"] = "user"
                    e["tags"] = [EMERGING_TAG]
                else:
                    e = base("decision")
                    e.update(surface="ad", advertiser_id=CAMPAIGN_ADVERTISER,
                             verdict="violating", detection="automated", action="reject_ad")
                yield orjson.dumps(e)
