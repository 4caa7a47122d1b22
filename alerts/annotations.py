"""Dashboard annotations: Grafana's built-in one and Prometheus queries for alert episodes.

grafana-foundation-sdk (11.3) models an annotation with the fields common to every data
source only; a Prometheus annotation query also needs ``step``, ``titleFormat``,
``textFormat``, ``tagKeys``, ``useValueForTime`` and a Prometheus ``target``. This module
adds exactly those, as a builder the SDK's dashboard builder accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models import dashboard as dm


class _PrometheusAnnotationQuery(dm.AnnotationQuery):
    def __init__(self, spec: PrometheusAnnotation) -> None:
        super().__init__(name=spec.name, datasource=spec.datasource, enable=True, hide=None,
                         icon_color=spec.icon_color, expr=spec.expr, built_in=None)
        self.spec = spec

    def to_json(self) -> dict[str, object]:
        spec = self.spec
        return {**super().to_json(), "target": {"refId": "Anno", "expr": spec.expr},
                "step": spec.step, "titleFormat": spec.title_format,
                "textFormat": spec.text_format, "tagKeys": spec.tag_keys,
                "useValueForTime": False}


@dataclass(frozen=True)
class PrometheusAnnotation(cogbuilder.Builder[dm.AnnotationQuery]):
    """One marker per series of ``expr`` (e.g. firing ``ALERTS``), labelled from its labels."""

    name: str
    datasource: dm.DataSourceRef
    icon_color: str
    expr: str
    step: str
    title_format: str
    text_format: str
    tag_keys: str

    def build(self) -> dm.AnnotationQuery:
        return _PrometheusAnnotationQuery(self)


def builtin_annotation() -> db.AnnotationQuery:
    """Grafana's own "Annotations & Alerts" entry, which a dashboard saved by the UI has."""
    return (db.AnnotationQuery().name("Annotations & Alerts").built_in(1).enable(True)
            .hide(True).icon_color("rgba(0, 211, 255, 1)").type("dashboard")
            .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --")))
