"""The dashboard's building blocks: data sources, query and panel helpers, the cost model."""

from __future__ import annotations

from dataclasses import dataclass

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import (
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    GridPos,
    Threshold,
    ThresholdsMode,
    ValueMapping,
)

UID = "trading-infrastructure"
TITLE = "Trading platform — Infrastructure"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
POSTGRES = DataSourceRef(type_val="grafana-postgresql-datasource", uid="${postgres}")
KUBE_JOBS = 'job=~"apiserver|kubelet|kube-state-metrics|node-exporter|coredns"'
NODE_JOB = 'job="node-exporter"'


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in steps])


def prom(expr: str, legend: str = "__auto", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)
    return query.instant() if instant else query.range()


@dataclass
class SqlDataquery(cogvariants.Dataquery):
    """A PostgreSQL query; the SDK has no builder for Grafana's SQL data sources."""

    ref_id: str
    raw_sql: str
    format: str = "time_series"

    def to_json(self) -> dict:
        return {
            "refId": self.ref_id,
            "datasource": POSTGRES,
            "rawSql": self.raw_sql,
            "format": self.format,
            "rawQuery": True,
            "editorMode": "code",
        }


class SqlQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, ref_id: str, raw_sql: str, format_: str = "time_series"):
        self._query = SqlDataquery(ref_id, raw_sql, format_)

    def build(self) -> SqlDataquery:
        return self._query


def at(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(h=h, w=w, x=x, y=y)


def dashed_red() -> list[DynamicConfigValue]:
    return [
        DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "red"}),
        DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
        DynamicConfigValue("custom.fillOpacity", 0),
    ]


def stat_panel(
    title: str,
    description: str,
    unit: str,
    query: prometheus.Dataquery,
    steps: list[tuple[float | None, str]],
    pos: GridPos,
    mappings: list[ValueMapping] | None = None,
    background: bool = True,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .with_target(query)
        .thresholds(thresholds(*steps))
        .grid_pos(pos)
        .color_mode(common.BigValueColorMode.BACKGROUND if background else common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def zones(panel: timeseries.Panel, *steps: tuple[float | None, str]) -> timeseries.Panel:
    return panel.thresholds(thresholds(*steps)).thresholds_style(
        cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE_AND_AREA)
    )


def series(
    title: str,
    description: str,
    unit: str,
    pos: GridPos,
    *queries: prometheus.Dataquery | SqlQuery,
    stacked: bool = False,
    bars: bool = False,
    fill: int = 10,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(PROMETHEUS)
        .grid_pos(pos)
        .fill_opacity(fill)
        .line_width(1)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )
    for q in queries:
        panel = panel.with_target(q)
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    return panel


# ---------------------------------------------------------------- sections


def db_transform(kind: str, options: dict | None = None) -> DataTransformerConfig:
    return DataTransformerConfig(id_val=kind, options=options or {})


@dataclass(frozen=True)
class CostModel:
    fixed: float  # EUR/h with the compute pool asleep
    compute_node: float  # EUR/h per compute node
    read_on: str  # the oldest read date of the prices behind the figures

    @classmethod
    def from_estimate(cls, estimate: dict) -> CostModel:
        """From the stack's ``estimated_cost_eur_per_hour`` output (components/scaleway/cost.py)."""
        oldest = min(p["read_on"] for p in estimate["prices"].values())
        return cls(fixed=estimate["fixed"], compute_node=estimate["compute_per_active_node"], read_on=oldest)
