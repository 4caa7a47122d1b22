"""Building blocks the generated dashboards share (:mod:`alerts.dashboards`,
:mod:`alerts.dashboards_threats`): the datasource, queries, grid positions, thresholds and
the legend and tooltip settings whose SDK defaults differ from Grafana's."""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, statetimeline
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from alerts.naming import DATASOURCE_UID

DATASOURCE: Final = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)


def target(ref: str, expr: str, legend_format: str) -> prometheus.Dataquery:
    return (prometheus.Dataquery().ref_id(ref).datasource(DATASOURCE).expr(expr)
            .legend_format(legend_format).range())


def grid(index: int, width: int, height: int, top: int) -> dm.GridPos:
    per_row = 24 // width
    return dm.GridPos(h=height, w=width, x=(index % per_row) * width,
                      y=top + (index // per_row) * height)


def steps(*levels: tuple[str, float | None]) -> db.ThresholdsConfig:
    return (db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(value=value, color=color) for color, value in levels]))


def state_mappings(inactive: str) -> list[dm.ValueMapping]:
    return [dm.ValueMap(options={
        "0": dm.ValueMappingResult(text=inactive, color="green"),
        "1": dm.ValueMappingResult(text="pending", color="yellow"),
        "2": dm.ValueMappingResult(text="firing", color="red")})]


def state_timeline(title: str, expr: str, legend_format: str, inactive: str,
                   height: int) -> statetimeline.Panel:
    return (statetimeline.Panel().id(1).title(title).datasource(DATASOURCE)
            .grid_pos(dm.GridPos(h=height, w=24, x=0, y=0))
            .with_target(target("A", expr, legend_format))
            .mappings(state_mappings(inactive))
            .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .thresholds(steps(("green", None), ("yellow", 1), ("red", 2)))
            .show_value(cm.VisibilityMode.NEVER).merge_values(True)
            # The SDK's default would hide the legend; Grafana's own shows it.
            .legend(legend_options(cm.LegendDisplayMode.LIST, cm.LegendPlacement.BOTTOM))
            .tooltip(tooltip(cm.TooltipDisplayMode.SINGLE)))


def threshold_line(color: str) -> list[dm.DynamicConfigValue]:
    return [dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": color}),
            dm.DynamicConfigValue(id_val="custom.lineStyle",
                                  value={"fill": "dash", "dash": [10, 10]}),
            dm.DynamicConfigValue(id_val="custom.fillOpacity", value=0)]


def legend_options(mode: cm.LegendDisplayMode,
                   placement: cm.LegendPlacement) -> cb.VizLegendOptions:
    return cb.VizLegendOptions().display_mode(mode).placement(placement).show_legend(True)


def tooltip(mode: cm.TooltipDisplayMode) -> cb.VizTooltipOptions:
    # Series in query order; the SDK's default would sort them ascending.
    return cb.VizTooltipOptions().mode(mode).sort(cm.SortOrder.NONE)
