"""Config of the emergent-threat detectors (``config/threats.yaml``): emerging tags,
advertiser concentration and drops.

Pure like :mod:`signals.config`: it takes an already-parsed mapping. Kept apart from the
thresholds model because these alerts are not per-signal levels: each detector finds its
own subjects (a tag, an advertiser) at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from signals.config import ConfigError
from signals.durations import format_duration, parse_duration
from signals.time_of_day_mean import DAY

Stream = Literal["report", "decision", "appeal"]
Measure = Literal["violations", "reports", "appeals"]
DropMeasure = Literal["decisions", "reports", "automated"]


def _duration(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration; write it as a string like 30s, 5m or 1h")
    return parse_duration(value)


Duration = Annotated[int, BeforeValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmergingConfig(_Strict):
    enabled: bool = True
    window: Duration = 900
    step: Duration = 300
    baseline: Duration = 4 * 3600
    # The baseline is a ring of sketches, one per block: a block leaves whole.
    block: Duration = 1800
    # Until this much baseline exists every tag is new; waiting avoids paging on warm-up.
    min_baseline: Duration = 1800
    lg_max_map_size: int = Field(default=10, ge=3, le=20)
    min_count: int = Field(default=40, ge=1)
    ratio: float = Field(default=8.0, gt=1.0)
    # Expected count floor: a tag never seen is compared against this, not against zero.
    expected_floor: float = Field(default=3.0, gt=0.0)
    clear_ratio: float = Field(default=3.0, gt=0.0)
    top_k: int = Field(default=5, ge=1, le=50)
    max_open: int = Field(default=3, ge=1, le=50)
    streams: tuple[Stream, ...] = ("report", "decision")


class ConcentrationConfig(_Strict):
    enabled: bool = True
    window: Duration = 900
    step: Duration = 300
    top_n: int = Field(default=1, ge=1, le=10)
    share: float = Field(default=0.3, gt=0.0, le=1.0)
    clear_share: float = Field(default=0.2, gt=0.0, le=1.0)
    min_events: int = Field(default=50, ge=1)
    measures: tuple[Measure, ...] = ("violations", "reports", "appeals")


class DropConfig(_Strict):
    enabled: bool = True
    window: Duration = 900
    step: Duration = 300
    baseline: Duration = 2 * 3600
    # A drop is the current window at or below this fraction of the baseline's mean.
    ratio: float = Field(default=0.2, ge=0.0, lt=1.0)
    clear_ratio: float = Field(default=0.5, gt=0.0, le=1.0)
    min_baseline: float = Field(default=30.0, gt=0.0)
    measures: tuple[DropMeasure, ...] = ("decisions", "reports", "automated")
    # Against the same time of day on previous days (one slot per seasonal_slot of the
    # day, a running mean over about seasonal_days days); the trailing mean only where no
    # previous day has the slot yet.
    seasonal: bool = True
    seasonal_slot: Duration = 300
    seasonal_days: int = Field(default=7, ge=1, le=60)

    @field_validator("seasonal_slot")
    @classmethod
    def _slot_divides_the_day(cls, slot: int, info: ValidationInfo) -> int:
        step = info.data.get("step", 300)
        if slot <= 0 or DAY % slot or slot % step:
            raise ValueError(
                f"{format_duration(slot)} must divide one day (24h) into whole slots and be "
                f"a whole number of steps ({format_duration(step)}); use e.g. 15m, 30m or 1h")
        return slot


class ThreatsConfig(_Strict):
    # Distinct tags (and advertisers) one area's pane keeps exactly; beyond it they are
    # counted as overflow. Exact merge across partitions holds while no pane overflows.
    pane_cap: int = Field(default=20000, ge=10)
    advertiser_ids: Literal["hashed", "full"] = "hashed"
    salt: str = "harmwatch"
    emerging: EmergingConfig = Field(default_factory=EmergingConfig)
    concentration: ConcentrationConfig = Field(default_factory=ConcentrationConfig)
    drops: DropConfig = Field(default_factory=DropConfig)

    def check_pane(self, pane_s: int, source: str) -> None:
        """Every window, step and block must be whole panes of the engine."""
        problems = []
        for name, part in (("emerging", self.emerging), ("concentration", self.concentration),
                           ("drops", self.drops)):
            for attr in ("window", "step", "baseline", "block"):
                value = getattr(part, attr, None)
                if value is not None and value % pane_s:
                    problems.append(f"{source}: {name}.{attr}: {value}s is not a whole number "
                                    f"of the {pane_s}s pane; use a multiple of {pane_s}s")
        if problems:
            raise ConfigError(problems)


def parse_threats(data: object, source: str) -> ThreatsConfig:
    """Validate a parsed ``threats.yaml``; an empty file means every default."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: the top level must be a mapping of settings"])
    try:
        return ThreatsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([
            f"{source}: {'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}; "
            "fix the value or remove it to take the default"
            for err in exc.errors()
        ]) from None
