"""Dashboard panels of the emergent-threat detectors (``config/threats.yaml``).

Per area: the bounded top-k emerging-tag series, the top advertisers' share, the drop
ratio against its reference and the open threat episodes; on the overview, open threat
episodes per area; on the pipeline board (drops page engineering), the drop ratios, open
drop episodes and pane overflow. Every level drawn comes from the threats config, every
query from the series :mod:`alerts.threat_metrics` exposes (tested against a real
exposition). No panel shows an advertiser: the share series has no id.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import statetimeline, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from alerts import conventions as c
from alerts.dashboards_parts import (
    DATASOURCE,
    grid,
    legend_options,
    steps,
    target,
    tooltip,
)
from alerts.naming import camel
from alerts.promql import RATE_WINDOW, legend, sel
from signals.concentration import SIGNAL as CONCENTRATION
from signals.durations import format_duration
from signals.emerging import SIGNAL as EMERGING
from signals.threat_types import ENGINEERING
from signals.threats import ROUTES
from signals.threats_config import ThreatsConfig

Panel = timeseries.Panel | statetimeline.Panel
WIDTH: Final = 12
HEIGHT: Final = 8
DROP_SIGNALS: Final = tuple(s for s, route in ROUTES.items() if route == ENGINEERING)
MEASURE_NAMES: Final = {"violations": "violating ads", "reports": "reports",
                        "appeals": "appeals"}


def _series(title: str, expr: str, legend_format: str, unit: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).datasource(DATASOURCE)
            .with_target(target("A", expr, legend_format)).unit(unit)
            .line_width(2).fill_opacity(5).span_nulls(False)
            .legend(legend_options(cm.LegendDisplayMode.LIST, cm.LegendPlacement.BOTTOM))
            .tooltip(tooltip(cm.TooltipDisplayMode.MULTI)))


def _level_line(panel: timeseries.Panel, base: str, color: str,
                level: float) -> timeseries.Panel:
    """A level from the threats config, drawn as a dashed line (no series carries it)."""
    return (panel.thresholds(steps((base, None), (color, level)))
            .thresholds_style(cb.GraphThresholdsStyleConfig()
                              .mode(cm.GraphThresholdsStyleMode.DASHED)))


def _open_timeline(title: str, expr: str, legend_format: str) -> statetimeline.Panel:
    return (statetimeline.Panel().title(title).datasource(DATASOURCE)
            .with_target(target("A", expr, legend_format))
            .mappings([
                dm.ValueMap(options={"0": dm.ValueMappingResult(text="none", color="green")}),
                dm.RangeMap(options=dm.DashboardRangeMapOptions(
                    from_val=1, to=None, result=dm.ValueMappingResult(text="open",
                                                                      color="red")))])
            .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .thresholds(steps(("green", None), ("red", 1)))
            .show_value(cm.VisibilityMode.NEVER).merge_values(True)
            .legend(legend_options(cm.LegendDisplayMode.LIST, cm.LegendPlacement.BOTTOM))
            .tooltip(tooltip(cm.TooltipDisplayMode.SINGLE)))


def area_threat_panels(threats: ThreatsConfig, area: str) -> list[Panel]:
    """The area's threat panels, without ids or grid positions (the board places them)."""
    em, co, dr = threats.emerging, threats.concentration, threats.drops
    where = {c.POLICY_AREA: area}
    panels: list[Panel] = []
    if em.enabled:
        panels.append(_level_line(_series(
            "Emerging tags (top of the window)",
            f"max by ({c.STREAM}, {c.TAG}) ({sel(c.EMERGING_TAG_COUNT, where)})",
            legend(c.STREAM, c.TAG), "short"), "green", "orange", em.min_count)
            .description(
                f"The {em.top_k} most frequent tags of the last {format_duration(em.window)} "
                f"in {area} (the only tag-valued series: at most {em.top_k}). A tag pages "
                f"(HarmwatchEmergingTag{camel(area)}) at {em.min_count} or more (dashed) and "
                f"{em.ratio:g}x its own {format_duration(em.baseline)} baseline, or never "
                "seen before; the episode's detail names it with its baseline."))
    if co.enabled:
        names = ", ".join(MEASURE_NAMES[m] for m in co.measures)
        panels.append(_level_line(_series(
            "Top advertiser's share" if co.top_n == 1 else
            f"Top {co.top_n} advertisers' share",
            f"max by ({c.MEASURE}) ({sel(c.ADVERTISER_TOP_SHARE, where)})",
            legend(c.MEASURE), "percentunit"), "green", "red", co.share)
            .min(0).max(1).description(
                f"Of the {names} in {area} over {format_duration(co.window)}, the share from "
                f"its top {co.top_n} advertiser(s). Pages "
                f"(HarmwatchAdvertiserConcentration{camel(area)}) at {co.share:.0%} (dashed) "
                f"with at least {co.min_events} events; who it is (hashed unless configured "
                "otherwise) is in the episode record only."))
    if dr.enabled:
        panels.append(_drop_ratio(threats, sel(c.DROP_RATIO, where), "max", legend(c.MEASURE),
                                  f"in {area}"))
    panels.append(_open_timeline(
        "Open emergent-threat episodes",
        f"max by ({c.SIGNAL}) ({sel(c.THREAT_ALERTS_OPEN, where)})", legend(c.SIGNAL))
        .description(f"Episodes the detectors hold open in {area}, by kind: "
                     f"{EMERGING} and {CONCENTRATION} page the area's owner, "
                     f"{', '.join(DROP_SIGNALS)} page engineering."))
    return panels


def _drop_ratio(threats: ThreatsConfig, selector: str, by: str, legend_format: str,
                where: str) -> timeseries.Panel:
    dr = threats.drops
    labels = c.MEASURE if by == "max" else f"{c.POLICY_AREA}, {c.MEASURE}"
    against = (f"the mean of the same time of day ({format_duration(dr.seasonal_slot)} "
               f"slots, about {dr.seasonal_days} days), or where no previous day has it the "
               f"mean of the previous {format_duration(dr.baseline)}") if dr.seasonal else (
        f"the mean of the previous {format_duration(dr.baseline)}")
    alerts = ", ".join(f"Harmwatch{camel(s)}" for s in DROP_SIGNALS)
    return (_level_line(_series("Drops: window against the usual",
                                f"{by} by ({labels}) ({selector})", legend_format,
                                "percentunit"), "red", "green", dr.ratio)
            .min(0).description(
                f"Each measure's last {format_duration(dr.window)} {where} over {against}. "
                f"At or below {dr.ratio:.0%} (dashed) with a reference of at least "
                f"{dr.min_baseline:g} it pages engineering ({alerts}): a broken classifier "
                "or a stalled consumer."))


def place(panels: list[Panel], first_id: int, top: int) -> list[Panel]:
    for index, panel in enumerate(panels):
        panel.id(first_id + index).grid_pos(grid(index, WIDTH, HEIGHT, top))
    return panels


def overview_threat_panel() -> timeseries.Panel:
    return (_series("Open emergent-threat episodes by area",
                    f"sum by ({c.POLICY_AREA}) ({c.THREAT_ALERTS_OPEN})",
                    legend(c.POLICY_AREA), "short")
            .draw_style(cm.GraphDrawStyle.BARS).fill_opacity(60)
            .description("Emerging tags, advertiser concentration and drops the detectors "
                         "hold open; each area's board shows what was found."))


def pipeline_threat_panels(threats: ThreatsConfig) -> list[Panel]:
    drop_open = (f'{c.THREAT_ALERTS_OPEN}{{{c.SIGNAL}=~"{"|".join(DROP_SIGNALS)}"}}')
    panels: list[Panel] = []
    if threats.drops.enabled:
        panels.append(_drop_ratio(threats, c.DROP_RATIO, "min",
                                  legend(c.POLICY_AREA, c.MEASURE), "per area"))
    panels.append(_open_timeline(
        "Open drop episodes (engineering)",
        f"max by ({c.POLICY_AREA}, {c.SIGNAL}) ({drop_open})",
        legend(c.POLICY_AREA, c.SIGNAL)))
    panels.append(_series(
        "Tags and advertisers a full pane could not keep, per second",
        f"rate({c.THREAT_PANE_OVERFLOW_TOTAL}[{RATE_WINDOW}])", "overflow", "short")
        .description(f"Beyond pane_cap ({threats.pane_cap}) distinct tags or advertisers per "
                     "area and pane; while it is 0 the partitioned merge is exact."))
    return panels
