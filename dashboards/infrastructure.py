"""The infrastructure dashboard of spec 003: 11 sections, one function each.

Built with grafana-foundation-sdk (Grafana 11.6 build).  Conventions, as Grafana's
dashboard linter wants them: a ``datasource`` variable labelled "Data source" that every
Prometheus panel uses, ``$__rate_interval`` in every rate, counters only inside
``rate``/``increase``, a unit and a description on every panel.  Anything expensive over 12
hours reads a recording rule of ``rules/recording.yaml`` (bench/dashboard_load.py measures
the dashboard with and without them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from grafana_foundation_sdk.builders import barchart, common as cb, dashboard as db, gauge, piechart
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder, variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.prometheus import PromQueryFormat
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync, DataSourceRef, DataTransformerConfig, DynamicConfigValue, GridPos, Threshold, ThresholdsMode, ValueMap,
    ValueMappingResult, VariableOption,
)

UID = "trading-infrastructure"
TITLE = "Trading platform — Infrastructure"
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
POSTGRES = DataSourceRef(type_val="grafana-postgresql-datasource", uid="${postgres}")
KUBE_JOBS = 'job=~"apiserver|kubelet|kube-state-metrics|node-exporter|coredns"'
NODE_JOB = 'job="node-exporter"'

def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=v, color=c) for v, c in steps])


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
        return {"refId": self.ref_id, "datasource": POSTGRES, "rawSql": self.raw_sql, "format": self.format,
                "rawQuery": True, "editorMode": "code"}


class SqlQuery(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, ref_id: str, raw_sql: str, format_: str = "time_series"):
        self._query = SqlDataquery(ref_id, raw_sql, format_)

    def build(self) -> SqlDataquery:
        return self._query


def at(x: int, y: int, w: int, h: int) -> GridPos:
    return GridPos(h=h, w=w, x=x, y=y)


def dashed_red() -> list[DynamicConfigValue]:
    return [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "red"}),
            DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            DynamicConfigValue("custom.fillOpacity", 0)]


def stat_panel(title: str, description: str, unit: str, query, steps, pos: GridPos,
               mappings: list | None = None, background: bool = True) -> stat.Panel:
    panel = (stat.Panel().title(title).description(description).unit(unit).datasource(PROMETHEUS)
             .with_target(query).thresholds(thresholds(*steps)).grid_pos(pos)
             .color_mode(common.BigValueColorMode.BACKGROUND if background else common.BigValueColorMode.VALUE)
             .graph_mode(common.BigValueGraphMode.NONE)
             .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
    if mappings:
        panel = panel.mappings(mappings)
    return panel


def zones(panel: timeseries.Panel, *steps) -> timeseries.Panel:
    return panel.thresholds(thresholds(*steps)).thresholds_style(
        cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE_AND_AREA))


def series(title: str, description: str, unit: str, pos: GridPos, *queries, stacked: bool = False,
           bars: bool = False, fill: int = 10) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).unit(unit).datasource(PROMETHEUS)
             .grid_pos(pos).fill_opacity(fill).line_width(1)
             .legend(cb.VizLegendOptions().show_legend(True).display_mode(common.LegendDisplayMode.LIST)
                     .placement(common.LegendPlacement.BOTTOM)))
    for q in queries:
        panel = panel.with_target(q)
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
    return panel


# ---------------------------------------------------------------- sections

def health_status_bar(y: int, cost: "CostModel") -> list:
    """1. Glance (5 s): one row of stats, green = OK."""
    up_down = [ValueMap({"1": ValueMappingResult(text="UP", color="green"),
                         "0": ValueMappingResult(text="DOWN", color="red")})]
    compute_cost = f'(count(kube_node_info{{node=~".*compute.*"}}) or vector(0)) * {cost.compute_node}'
    return [
        stat_panel("Cluster Status", "Lowest `up` of the Kubernetes scrape jobs: DOWN as soon as one target is.",
                   "none", prom(f"min(up{{{KUBE_JOBS}}})", instant=True),
                   [(None, "red"), (1, "green")], at(0, y, 3, 3), up_down),
        stat_panel("Permanent Node", "Nodes of the permanent pool. Always 1.", "none",
                   prom('count(kube_node_info{node=~".*permanent.*"}) or vector(0)', instant=True),
                   [(None, "red"), (1, "green")], at(3, y, 3, 3)),
        stat_panel("Compute Node", "Nodes of the autoscaled compute pool: 0 when idle, orange while it costs.",
                   "none", prom('count(kube_node_info{node=~".*compute.*"}) or vector(0)', instant=True),
                   [(None, "blue"), (1, "orange")], at(6, y, 3, 3)),
        stat_panel("FTF Pods", "Running fine-tuning (finetune-*) containers; 5 during a run.", "none",
                   prom('count(kube_pod_container_status_running{pod=~"finetune.*"} == 1) or vector(0)', instant=True),
                   [(None, "blue"), (5, "green")], at(9, y, 3, 3)),
        stat_panel("Error Rate", "Container restarts over the last hour, all namespaces. Target: 0.", "short",
                   prom("sum(increase(kube_pod_container_status_restarts_total[1h])) or vector(0)", instant=True),
                   [(None, "green"), (1, "red")], at(12, y, 3, 3)),
        stat_panel("Latency p99", "p99 of HTTP request duration at the ingress, all services. SLA < 100 ms.", "s",
                   prom("histogram_quantile(0.99, sum by (le) (rate(traefik_service_request_duration_seconds_bucket"
                        "[$__rate_interval])))", instant=True),
                   [(None, "green"), (0.1, "yellow"), (0.5, "red")], at(15, y, 3, 3)),
        stat_panel("Avail 12h", "Share of successful scrapes of the Kubernetes jobs over 12 hours. SLA > 99.9%.",
                   "percent", prom(f"avg(avg_over_time(up{{{KUBE_JOBS}}}[12h])) * 100", instant=True),
                   [(None, "red"), (99, "yellow"), (99.9, "green")], at(18, y, 3, 3)),
        stat_panel("Cost EUR/h", f"Hourly cost now: fixed part {cost.fixed:.4f} EUR/h plus {cost.compute_node} EUR/h "
                   f"per compute node (prices read {cost.read_on}).", "currencyEUR",
                   prom(f"{compute_cost} + {cost.fixed}", instant=True),
                   [(None, "green"), (cost.fixed + 0.0001, "orange")], at(21, y, 3, 3)),
    ]


def twelve_hour_timeline(y: int) -> list:
    """2. Scan (30 s): was everything OK in the last 12 hours?"""
    return [
        zones(series("CPU Utilization — All Nodes", "Non-idle CPU share per node (recording rule "
                     "instance:node_cpu_utilisation:rate5m). Yellow zone > 70%, red > 90%.", "percent",
                     at(0, y, 12, 8), prom(f"100 * instance:node_cpu_utilisation:rate5m{{{NODE_JOB}}}", "{{instance}}")),
              (None, "transparent"), (70, "yellow"), (90, "red")).max(100).min(0),
        zones(series("Memory Utilization — All Nodes", "(MemTotal - MemAvailable) / MemTotal per node. "
                     "Yellow zone > 70%, red > 90%.", "percent", at(12, y, 12, 8),
                     prom(f"100 * instance:node_memory_utilisation:ratio{{{NODE_JOB}}}", "{{instance}}")),
              (None, "transparent"), (70, "yellow"), (90, "red")).max(100).min(0),
        series("Request Throughput", "Requests per second by service at the ingress (API, Airflow, MLflow).",
               "reqps", at(0, y + 8, 12, 8),
               prom("sum by (service) (rate(traefik_service_requests_total[$__rate_interval]))", "{{service}}"),
               stacked=True, fill=40),
        series("Error Timeline", "Events per 5 minutes: container restarts, OOM kills, failed pods. "
               "Zero baseline = healthy.", "short", at(12, y + 8, 12, 8),
               prom("sum(increase(kube_pod_container_status_restarts_total[5m])) or vector(0)", "restarts", "A"),
               prom("sum(increase(kube_pod_container_status_restarts_total[5m]) and on (namespace, pod, container) "
                    'kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} == 1) or vector(0)',
                    "OOM kills", "B"),
               prom('sum(kube_pod_status_phase{phase="Failed"}) or vector(0)', "failed pods", "C"),
               bars=True).color_scheme(db.FieldColor().mode("fixed").fixed_color("red")),
    ]


def resource_efficiency(y: int) -> list:
    """3. Investigate: are resources well used?  Waste vs saturation."""
    def eff_gauge(title, description, expr, steps, x):
        return (gauge.Panel().title(title).description(description).unit("percent").datasource(PROMETHEUS)
                .with_target(prom(expr, instant=True)).thresholds(thresholds(*steps)).min(0).max(100)
                .grid_pos(at(x, y, 4, 8)))
    category_colors = {"ftf": "orange", "airflow": "blue", "mlflow": "green", "other": "grey"}

    def balance(title, description, expr, unit, x):
        panel = (piechart.Panel().title(title).description(description).unit(unit).datasource(PROMETHEUS)
                 .with_target(prom(expr, "{{category}}", instant=True)).grid_pos(at(x, y + 8, 12, 8))
                 .pie_type("pie").reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
        for category, color in category_colors.items():
            panel = panel.override_by_name(category, [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": color})])
        return panel

    return [
        eff_gauge("CPU Efficiency", "CPU used / CPU requested by running pods. Red < 50% (waste), green > 80%.",
                  "100 * cluster:container_cpu_usage_seconds:efficiency_ratio",
                  [(None, "red"), (50, "yellow"), (80, "green")], 0),
        eff_gauge("Memory Efficiency", "Working set / memory requested by running pods. Red < 50%, green > 60%.",
                  "100 * cluster:container_memory_working_set_bytes:efficiency_ratio",
                  [(None, "red"), (50, "yellow"), (60, "green")], 4),
        eff_gauge("Disk Usage", "Fullest persistent volume. Alert at 90%, red above 85%.",
                  "100 * max(namespace_persistentvolumeclaim:kubelet_volume_stats_used:ratio)",
                  [(None, "green"), (70, "yellow"), (85, "red")], 8),
        (barchart.Panel().title("Top 5 CPU Consumers").description("Pods using the most CPU now, in cores.")
         .unit("short").datasource(PROMETHEUS).orientation(common.VizOrientation.HORIZONTAL)
         .with_target(prom("topk(5, namespace_pod:container_cpu_usage_seconds:rate5m)", "{{pod}}", instant=True)
                      .format(PromQueryFormat.TABLE))
         .grid_pos(at(12, y, 12, 8))),
        balance("CPU Balance", "CPU use by category (pod name): fine-tuning, Airflow, MLflow, other.",
                "category:container_cpu_usage_seconds:rate5m", "short", 0),
        balance("Memory Balance", "Working set by category (pod name): fine-tuning, Airflow, MLflow, other.",
                "category:container_memory_working_set_bytes:sum", "bytes", 12),
    ]


def ftf_parallel_execution(y: int) -> list:
    """4. Is the fine-tuning run parallel and balanced?  Stragglers?"""
    limit = "limit"
    return [
        series("FTF CPU per Pod", "CPU cores per fine-tuning pod; red dashed: the pods' CPU limit.", "short",
               at(0, y, 12, 10),
               prom('namespace_pod:container_cpu_usage_seconds:rate5m{pod=~"finetune.*"}', "{{pod}}", "A"),
               prom('max(kube_pod_container_resource_limits{resource="cpu", pod=~"finetune.*"})', limit, "B"))
        .override_by_name(limit, dashed_red()),
        zones(series("CPU Throttling", "Share of CFS periods throttled per fine-tuning container. "
                     "Green < 30%, yellow 30-50%, red > 50% (limit too low).", "percent", at(12, y, 12, 10),
                     prom('100 * namespace_pod_container:container_cpu_cfs_throttled:ratio_rate5m{pod=~"finetune.*"}',
                          "{{pod}}")),
              (None, "green"), (30, "yellow"), (50, "red")),
        series("FTF Memory per Pod", "Working set per fine-tuning pod; red dashed: the pods' memory limit.",
               "bytes", at(0, y + 10, 12, 10),
               prom('namespace_pod:container_memory_working_set_bytes:sum{pod=~"finetune.*"}', "{{pod}}", "A"),
               prom('max(kube_pod_container_resource_limits{resource="memory", pod=~"finetune.*"})', limit, "B"))
        .override_by_name(limit, dashed_red()),
        series("FTF Disk I/O", "Bytes written (checkpoints) and read (data loads) per second by fine-tuning pods.",
               "Bps", at(12, y + 10, 12, 10),
               prom('sum by (pod) (rate(container_fs_writes_bytes_total{pod=~"finetune.*"}[$__rate_interval]))',
                    "write {{pod}}", "A"),
               prom('sum by (pod) (rate(container_fs_reads_bytes_total{pod=~"finetune.*"}[$__rate_interval]))',
                    "read {{pod}}", "B")),
    ]


def autoscaler_and_latency(y: int) -> list:
    """5. How does the autoscaler behave?  Cold-start impact."""
    ready = [ValueMap({"1": ValueMappingResult(text="Ready", color="green"),
                       "0": ValueMappingResult(text="NotReady", color="red")})]
    return [
        (statetimeline.Panel().title("Node Lifecycle Timeline").description(
            "Ready state per node over time; grey (no data) = the node did not exist.")
         .unit("none").datasource(PROMETHEUS).mappings(ready).grid_pos(at(0, y, 12, 6))
         .with_target(prom('max by (node) (kube_node_status_condition{condition="Ready", status="true"})', "{{node}}"))),
        stat_panel("Compute Uptime", "Age of the newest compute node (0 when the pool is asleep).", "s",
                   prom('(time() - max(kube_node_created{node=~".*compute.*"})) or vector(0)', instant=True),
                   [(None, "blue"), (1, "orange")], at(12, y, 3, 6)),
        stat_panel("Wake-up Time", "From the first fine-tuning pod's creation to the compute node's creation. "
                   "Green < 5 min.", "s",
                   prom('clamp_min(max(kube_node_created{node=~".*compute.*"}) - '
                        'min(kube_pod_created{pod=~"finetune.*"}), 0)', instant=True),
                   [(None, "green"), (300, "red")], at(15, y, 3, 6)),
        (table.Panel().title("Scale Events").description(
            "When compute nodes and fine-tuning pods were created (newest first).")
         .unit("dateTimeAsIso").datasource(PROMETHEUS).grid_pos(at(18, y, 6, 6))
         .with_target(prom('kube_node_created{node=~".*compute.*"} * 1000', "{{node}} up", "A", instant=True)
                      .format(PromQueryFormat.TABLE))
         .with_target(prom('kube_pod_created{pod=~"finetune.*"} * 1000', "{{pod}} scheduled", "B", instant=True)
                      .format(PromQueryFormat.TABLE))
         .sort_by([cb.TableSortByFieldState().display_name("Value").desc(True)])),
    ]


def swap_and_system_health(y: int) -> list:
    """6. System level: swap is memory pressure, an early warning."""
    return [
        zones(series("Swap Usage per Node", "Swap in use per node. Any swap > 0 = memory pressure (alert).",
                     "bytes", at(0, y, 12, 6), prom("instance:node_swap_used_bytes:sum", "{{instance}}")),
              (None, "green"), (1, "red")),
        zones(series("Open File Descriptors", "Allocated / maximum file descriptors per node: high = leak. "
                     "Alert above 80%.", "percent", at(12, y, 12, 6),
                     prom("100 * node_filefd_allocated / node_filefd_maximum", "{{instance}}")),
              (None, "green"), (80, "red")),
        series("Network Throughput", "Received (+) and transmitted (-) bytes per second per pod.", "Bps",
               at(0, y + 6, 12, 6),
               prom('sum by (pod) (rate(container_network_receive_bytes_total{pod!=""}[$__rate_interval]))',
                    "rx {{pod}}", "A"),
               prom('-sum by (pod) (rate(container_network_transmit_bytes_total{pod!=""}[$__rate_interval]))',
                    "tx {{pod}}", "B"), stacked=True),
        (gauge.Panel().title("PVC Usage").description("Used share of each persistent volume. Green < 70%, "
                                                       "yellow 70-85%, red > 85%.")
         .unit("percent").datasource(PROMETHEUS).min(0).max(100).grid_pos(at(12, y + 6, 12, 6))
         .with_target(prom("100 * namespace_persistentvolumeclaim:kubelet_volume_stats_used:ratio",
                           "{{persistentvolumeclaim}}", instant=True))
         .thresholds(thresholds((None, "green"), (70, "yellow"), (85, "red")))),
    ]


def process_sizing(y: int) -> list:
    """7. Are pods sized right?  Under-provisioned = throttled, over-provisioned = waste."""
    req = 'sum by (namespace, pod) (kube_pod_container_resource_{kind}{{resource="{res}"}})'
    queries = [
        ("A", req.format(kind="requests", res="cpu"), "CPU req"),
        ("B", req.format(kind="limits", res="cpu"), "CPU lim"),
        ("C", "namespace_pod:container_cpu_usage_seconds:rate5m", "CPU used"),
        ("D", "100 * namespace_pod:container_cpu_usage_seconds:rate5m / " + req.format(kind="limits", res="cpu"), "CPU %"),
        ("E", req.format(kind="requests", res="memory"), "MEM req"),
        ("F", req.format(kind="limits", res="memory"), "MEM lim"),
        ("G", "namespace_pod:container_memory_working_set_bytes:sum", "MEM used"),
        ("H", "100 * namespace_pod:container_memory_working_set_bytes:sum / " + req.format(kind="limits", res="memory"),
         "MEM %"),
    ]
    panel = (table.Panel().title("Pod Sizing Table").description(
        "Requests, limits and use per pod. CPU% > 90 red (throttled), < 20 blue (over-provisioned); "
        "MEM% > 80 red (OOM risk), < 20 blue.").unit("short").datasource(PROMETHEUS).grid_pos(at(0, y, 24, 6)))
    for ref, expr, _ in queries:
        panel = panel.with_target(prom(expr, "", ref, instant=True).format(PromQueryFormat.TABLE))
    for name, unit in (("Value #A", "short"), ("Value #B", "short"), ("Value #C", "short"),
                       ("Value #E", "bytes"), ("Value #F", "bytes"), ("Value #G", "bytes")):
        panel = panel.override_by_name(name, [DynamicConfigValue("unit", unit)])
    for name, red in (("Value #D", 90), ("Value #H", 80)):
        panel = panel.override_by_name(name, [
            DynamicConfigValue("unit", "percent"),
            DynamicConfigValue("custom.cellOptions", {"type": "color-background"}),
            DynamicConfigValue("thresholds", {"mode": "absolute", "steps": [
                {"value": None, "color": "blue"}, {"value": 20, "color": "green"}, {"value": red, "color": "red"}]}),
        ])
    return [panel.with_transformation(db_transform("merge")).with_transformation(db_transform(
        "organize", {"excludeByName": {"Time": True},
                     "renameByName": {f"Value #{ref}": title for ref, _, title in queries}}))]


def db_transform(kind: str, options: dict | None = None) -> DataTransformerConfig:
    return DataTransformerConfig(id_val=kind, options=options or {})


def application_health(y: int) -> list:
    """8. DB, HTTP errors, latency, certificates, DNS."""
    pool_max = "pool max"
    latency = lambda q, ref: prom(  # noqa: E731
        f"histogram_quantile({q}, sum by (le, service) (rate(traefik_service_request_duration_seconds_bucket"
        f"[$__rate_interval])))", f"p{int(q * 100)} {{{{service}}}}", ref)
    return [
        series("DB Connections", "PostgreSQL sessions vs max_connections (red dashed). Alert above 80%.",
               "short", at(0, y, 12, 8),
               prom("sum by (instance) (pg_stat_activity_count)", "active {{instance}}", "A"),
               prom("max by (instance) (pg_settings_max_connections)", pool_max, "B"))
        .override_by_name(pool_max, dashed_red()),
        series("HTTP Error Rates by Service", "4xx (yellow) and 5xx (red) responses per second by service. "
               "Zero = healthy.", "reqps", at(12, y, 12, 8),
               prom('sum by (service) (rate(traefik_service_requests_total{code=~"4.."}[$__rate_interval]))',
                    "4xx {{service}}", "A"),
               prom('sum by (service) (rate(traefik_service_requests_total{code=~"5.."}[$__rate_interval]))',
                    "5xx {{service}}", "B"))
        .override_by_regexp("4xx.*", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "yellow"})])
        .override_by_regexp("5xx.*", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "red"})]),
        zones(series("Response Latency p50/p95/p99", "Request duration quantiles by service at the ingress. "
                     "Green < 100 ms, red > 500 ms.", "s", at(0, y + 8, 12, 8),
                     latency(0.5, "A"), latency(0.95, "B"), latency(0.99, "C")),
              (None, "green"), (0.1, "yellow"), (0.5, "red")),
        stat_panel("Certificate Expiry", "Days until each cert-manager certificate expires. "
                   "> 30 d green, 7-30 d yellow, < 7 d red.", "d",
                   prom("min by (name) ((certmanager_certificate_expiration_timestamp_seconds - time()) / 86400)",
                        "{{name}}", instant=True),
                   [(None, "red"), (7, "yellow"), (30, "green")], at(12, y + 8, 12, 8)),
        zones(series("DNS Resolution Time", "DNS lookup time of the external APIs (Binance, Langfuse, "
                     "Scaleway S3), from the blackbox probes. Green < 50 ms, yellow 50-200 ms, red > 200 ms.", "s",
                     at(0, y + 16, 24, 8), prom("max by (instance) (probe_dns_lookup_time_seconds)", "{{instance}}")),
              (None, "green"), (0.05, "yellow"), (0.2, "red")),
    ]


def airflow_health(y: int) -> list:
    """9. Is the orchestrator healthy?  Queues, failed tasks."""
    slots = lambda kind: f"sum(airflow_pool_{kind}_slots)"  # noqa: E731
    return [
        stat_panel("Scheduler Heartbeat", "Seconds since the scheduler heartbeat counter last moved "
                   "(within the last 10 min). < 30 s green, > 60 s red.", "s",
                   prom("time() - max(max_over_time(timestamp(changes(airflow_scheduler_heartbeat[1m]) > 0)[10m:30s]))",
                        instant=True), [(None, "green"), (30, "yellow"), (60, "red")], at(0, y, 4, 8)),
        stat_panel("DAG Parse Time", "Total DAG parse time of the last parsing loop. < 5 s green, > 10 s red.", "s",
                   prom("max(airflow_dag_processing_total_parse_time)", instant=True),
                   [(None, "green"), (5, "yellow"), (10, "red")], at(4, y, 4, 8)),
        stat_panel("Queue Depth", "Queued task slots, all pools. 0 green, > 5 red.", "none",
                   prom(slots("queued"), instant=True), [(None, "green"), (1, "yellow"), (5, "red")], at(8, y, 4, 8)),
        (table.Panel().title("Failed Tasks (24h)").description(
            "Task-instance failures over the last 24 hours (statsd ti_failures). Target: 0.")
         .unit("short").datasource(PROMETHEUS).grid_pos(at(12, y, 12, 8))
         .with_target(prom("sum(increase(airflow_ti_failures[24h])) or vector(0)", "failures", instant=True)
                      .format(PromQueryFormat.TABLE))),
        series("Task States Over Time", "Pool slots: running (green), queued (yellow), open (blue).", "short",
               at(0, y + 8, 12, 8), prom(slots("running"), "running", "A"), prom(slots("queued"), "queued", "B"),
               prom(slots("open"), "open", "C"), stacked=True, fill=40)
        .override_by_name("running", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "green"})])
        .override_by_name("queued", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "yellow"})])
        .override_by_name("open", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "blue"})]),
        (gauge.Panel().title("Worker Utilization").description(
            "Running / (running + open) slots. Target 60-90%; < 30% over-provisioned, > 95% saturated.")
         .unit("percent").datasource(PROMETHEUS).min(0).max(100).grid_pos(at(12, y + 8, 12, 8))
         .with_target(prom(f"100 * {slots('running')} / ({slots('running')} + {slots('open')})", instant=True))
         .thresholds(thresholds((None, "blue"), (30, "yellow"), (60, "green"), (90, "yellow"), (95, "red")))),
    ]


RUNS = ("SELECT run_id, MAX(created_at) AS finished, AVG(f1_macro) AS f1, AVG(action_rate) AS action_rate, "
        "AVG(cusum_block_rate) AS cusum_block_rate, AVG(n_train_samples) AS n_train_samples "
        "FROM finetune_results GROUP BY run_id")


def drift_queries() -> dict[str, list[str]]:
    """The SQL of every drift panel (also run by the tests on a real PostgreSQL)."""
    per_run = lambda col, alias, scale="": (  # noqa: E731
        f'SELECT finished AS "time", {col}{scale} AS "{alias}" FROM ({RUNS}) runs '
        f"WHERE $__timeFilter(finished) ORDER BY 1")
    return {
        "F1 Macro Trend": [
            per_run("f1", "f1_macro"),
            f'SELECT finished AS "time", AVG(f1) OVER (ORDER BY finished RANGE BETWEEN INTERVAL \'7 days\' '
            f'PRECEDING AND CURRENT ROW) AS "7d moving average" FROM ({RUNS}) runs '
            f"WHERE $__timeFilter(finished) ORDER BY 1",
        ],
        "Sortino Trend": [
            'SELECT MAX(created_at) AS "time", crypto AS metric, AVG(sortino) AS value FROM finetune_results '
            "WHERE cost_bps = 15 AND $__timeFilter(created_at) GROUP BY run_id, crypto ORDER BY 1",
        ],
        "Action Rate Drift": [per_run("action_rate", "BUY share", " * 100")],
        "CUSUM Filter Rate": [per_run("cusum_block_rate", "filtered", " * 100")],
        "Training Sample Trend": [per_run("n_train_samples", "n_train_samples")],
    }


def performance_drift(y: int) -> list:
    """10. Is the ML pipeline degrading?  PostgreSQL finetune_results, 30 days."""
    texts = {
        "F1 Macro Trend": ("Mean f1_macro per run and its 7-day moving average. Alert: > 10% below the 7-day "
                           "average (Grafana-managed F1Drift).", "percentunit", at(0, y, 12, 8)),
        "Sortino Trend": ("Mean Sortino per crypto per run, at 15 bps cost. A crypto always low is a "
                          "candidate for exclusion.", "none", at(12, y, 12, 8)),
        "Action Rate Drift": ("% of candles where the model predicts BUY. Up = more permissive, down = more "
                              "conservative. Alert on > 20% change from baseline.", "percent", at(0, y + 8, 12, 8)),
        "CUSUM Filter Rate": ("% of candles filtered by CUSUM before inference. ~95% is normal; a drop = CUSUM "
                              "relaxing, a spike = market regime shift.", "percent", at(12, y + 8, 12, 8)),
        "Training Sample Trend": ("n_train_samples per run: stable ~27K for a 12-month window. A drop = data "
                                  "pipeline, missing OHLCV, Binance API problem.", "short", at(0, y + 16, 24, 8)),
    }
    panels = []
    for title, queries in drift_queries().items():
        description, unit, pos = texts[title]
        panel = (timeseries.Panel().title(title).description(description).unit(unit).datasource(POSTGRES)
                 .grid_pos(pos).time_from("30d").show_points(common.VisibilityMode.ALWAYS).line_width(1))
        for ref, sql in zip("ABC", queries):
            panel = panel.with_target(SqlQuery(ref, sql))
        if title == "F1 Macro Trend":
            panel = panel.override_by_name("7d moving average", [
                DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})])
        panels.append(panel)
    return panels


def alert_log(y: int, runbook_base_url: str) -> list:
    """11. What went wrong, when, and what to do: every alert links its runbook."""
    alerts = 'ALERTS{alertstate="firing", alertname!~"Watchdog|InfoInhibitor"}'
    history = (table.Panel().title("Alert History").description(
        "Alerts that fired in the range, newest first: severity, alert, target, runbook (click to open).")
        .unit("none").datasource(PROMETHEUS).grid_pos(at(0, y, 24, 8))
        .with_target(prom(f"max by (alertname, severity, runbook, namespace, pod, node, instance) "
                          f"(max_over_time({alerts}[$__range]) * timestamp(max_over_time({alerts}[$__range])))",
                          "", instant=True).format(PromQueryFormat.TABLE))
        .override_by_name("runbook", [DynamicConfigValue("links", [{
            "title": "Open runbook", "url": f"{runbook_base_url}/${{__value.raw}}.md", "targetBlank": True}])])
        .override_by_name("Value", [DynamicConfigValue("displayName", "Last seen"),
                                    DynamicConfigValue("unit", "dateTimeAsIso")])
        .sort_by([cb.TableSortByFieldState().display_name("Last seen").desc(True)]))
    return [
        history,
        stat_panel("Active Alerts", "Critical and warning alerts firing now.", "none",
                   prom('count(ALERTS{alertstate="firing", severity=~"critical|warning"}) or vector(0)', instant=True),
                   [(None, "green"), (1, "red")], at(0, y + 8, 12, 8)),
        stat_panel("Alerts Last 24h", "Distinct critical, warning and info alerts that fired in 24 hours.", "none",
                   prom('count(count_over_time(ALERTS{alertstate="firing", severity=~"critical|warning|info"}[24h])) '
                        "or vector(0)", instant=True),
                   [(None, "green"), (1, "yellow")], at(12, y + 8, 12, 8)),
    ]


@dataclass(frozen=True)
class CostModel:
    fixed: float         # EUR/h with the compute pool asleep
    compute_node: float  # EUR/h per compute node
    read_on: str         # the oldest read date of the prices behind the figures

    @classmethod
    def from_estimate(cls, estimate: dict) -> CostModel:
        """From the stack's ``estimated_cost_eur_per_hour`` output (components/scaleway/cost.py)."""
        oldest = min(p["read_on"] for p in estimate["prices"].values())
        return cls(fixed=estimate["fixed"], compute_node=estimate["compute_per_active_node"], read_on=oldest)


# (row title, section, height of its panels); rows stack top-down in this order.
SECTIONS = [
    ("1 Health Status Bar", lambda y, c, r: health_status_bar(y, c), 3),
    ("2 12-Hour Timeline", lambda y, c, r: twelve_hour_timeline(y), 16),
    ("3 Resource Efficiency", lambda y, c, r: resource_efficiency(y), 16),
    ("4 FTF Parallel Execution", lambda y, c, r: ftf_parallel_execution(y), 20),
    ("5 Autoscaler & Latency", lambda y, c, r: autoscaler_and_latency(y), 6),
    ("6 Swap & System Health", lambda y, c, r: swap_and_system_health(y), 12),
    ("7 Process Sizing", lambda y, c, r: process_sizing(y), 6),
    ("8 Application Health", lambda y, c, r: application_health(y), 24),
    ("9 Airflow Health", lambda y, c, r: airflow_health(y), 16),
    ("10 Performance Drift Indicators", lambda y, c, r: performance_drift(y), 24),
    ("11 Alert Log & Diagnostics", lambda y, c, r: alert_log(y, r), 16),
]


def build(cost: CostModel, runbook_base_url: str) -> dict:
    """The dashboard's JSON model."""
    board = (db.Dashboard(TITLE).uid(UID).tags(["trading-platform", "infrastructure", "spec-003"])
             .description("Glance (5 s), scan (30 s), investigate (2 min), act: spec 003 V2.")
             .time("now-12h", "now").refresh("1m").timezone("utc").tooltip(DashboardCursorSync.CROSSHAIR)
             .editable()
             .with_variable(db.DatasourceVariable("datasource").label("Data source").type("prometheus")
                            .current(VariableOption(text="Prometheus", value="prometheus", selected=True)))
             .with_variable(db.DatasourceVariable("postgres").label("PostgreSQL").type("grafana-postgresql-datasource")
                            .current(VariableOption(text="finetune_results (PostgreSQL)", value="trading-postgres",
                                                    selected=True))))
    y = 0
    for title, section, height in SECTIONS:
        board = board.with_row(db.Row(title).grid_pos(at(0, y, 24, 1)))
        for panel in section(y + 1, cost, runbook_base_url):
            board = board.with_panel(panel)
        y += 1 + height
    model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    # Info alerts as annotations on every time series (the SDK's AnnotationQuery has no
    # Prometheus fields, so they are added to the model here).
    model.setdefault("annotations", {}).setdefault("list", []).append({
        "name": "Info alerts", "enable": True, "iconColor": "blue", "datasource": {"type": "prometheus",
                                                                                    "uid": "${datasource}"},
        "expr": 'ALERTS{severity="info", alertstate="firing"}', "step": "60s",
        "titleFormat": "{{alertname}}", "textFormat": "{{node}}{{pod}}", "tagKeys": "alertname,severity",
        "useValueForTime": False,
    })
    return model
