"""Sections 1 to 5: health at a glance, the 12-hour timeline, resource efficiency, fine-tuning
runs in parallel, autoscaler and latency."""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    barchart,
    gauge,
    piechart,
    statetimeline,
    table,
)
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DynamicConfigValue,
    FieldColorModeId,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
)
from grafana_foundation_sdk.models.piechart import PieChartType
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards.panels import (
    KUBE_JOBS,
    NODE_JOB,
    PROMETHEUS,
    CostModel,
    at,
    dashed_red,
    prom,
    series,
    stat_panel,
    thresholds,
    zones,
)


def health_status_bar(y: int, cost: CostModel) -> list:
    """1. Glance (5 s): one row of stats, green = OK."""
    up_down: list[ValueMapping] = [
        ValueMap({"1": ValueMappingResult(text="UP", color="green"), "0": ValueMappingResult(text="DOWN", color="red")})
    ]
    compute_cost = f'(count(kube_node_info{{node=~".*compute.*"}}) or vector(0)) * {cost.compute_node}'
    return [
        stat_panel(
            "Cluster Status",
            "Lowest `up` of the Kubernetes scrape jobs: DOWN as soon as one target is.",
            "none",
            prom(f"min(up{{{KUBE_JOBS}}})", instant=True),
            [(None, "red"), (1, "green")],
            at(0, y, 3, 3),
            up_down,
        ),
        stat_panel(
            "Permanent Node",
            "Nodes of the permanent pool. Always 1.",
            "none",
            prom('count(kube_node_info{node=~".*permanent.*"}) or vector(0)', instant=True),
            [(None, "red"), (1, "green")],
            at(3, y, 3, 3),
        ),
        stat_panel(
            "Compute Node",
            "Nodes of the autoscaled compute pool: 0 when idle, orange while it costs.",
            "none",
            prom('count(kube_node_info{node=~".*compute.*"}) or vector(0)', instant=True),
            [(None, "blue"), (1, "orange")],
            at(6, y, 3, 3),
        ),
        stat_panel(
            "FTF Pods",
            "Running fine-tuning (finetune-*) containers; 5 during a run.",
            "none",
            prom('count(kube_pod_container_status_running{pod=~"finetune.*"} == 1) or vector(0)', instant=True),
            [(None, "blue"), (5, "green")],
            at(9, y, 3, 3),
        ),
        stat_panel(
            "Error Rate",
            "Container restarts over the last hour, all namespaces. Target: 0.",
            "short",
            prom("sum(increase(kube_pod_container_status_restarts_total[1h])) or vector(0)", instant=True),
            [(None, "green"), (1, "red")],
            at(12, y, 3, 3),
        ),
        stat_panel(
            "Latency p99",
            "p99 of HTTP request duration at the ingress, all services. SLA < 100 ms.",
            "s",
            prom(
                "histogram_quantile(0.99, sum by (le) "
                "(service_le:traefik_service_request_duration_seconds_bucket:rate5m))",
                instant=True,
            ),
            [(None, "green"), (0.1, "yellow"), (0.5, "red")],
            at(15, y, 3, 3),
        ),
        stat_panel(
            "Avail 12h",
            "Share of successful scrapes of the Kubernetes jobs over 12 hours. SLA > 99.9%.",
            "percent",
            prom(f"avg(avg_over_time(up{{{KUBE_JOBS}}}[12h])) * 100", instant=True),
            [(None, "red"), (99, "yellow"), (99.9, "green")],
            at(18, y, 3, 3),
        ),
        stat_panel(
            "Cost EUR/h",
            f"Hourly cost now: fixed part {cost.fixed:.4f} EUR/h plus {cost.compute_node} EUR/h "
            f"per compute node (prices read {cost.read_on}).",
            "currencyEUR",
            prom(f"{compute_cost} + {cost.fixed}", instant=True),
            [(None, "green"), (cost.fixed + 0.0001, "orange")],
            at(21, y, 3, 3),
        ),
    ]


def twelve_hour_timeline(y: int) -> list:
    """2. Scan (30 s): was everything OK in the last 12 hours?"""
    return [
        zones(
            series(
                "CPU Utilization — All Nodes",
                "Non-idle CPU share per node (recording rule "
                "instance:node_cpu_utilisation:rate5m). Yellow zone > 70%, red > 90%.",
                "percent",
                at(0, y, 12, 8),
                prom(f"100 * instance:node_cpu_utilisation:rate5m{{{NODE_JOB}}}", "{{instance}}"),
            ),
            (None, "transparent"),
            (70, "yellow"),
            (90, "red"),
        )
        .max(100)
        .min(0),
        zones(
            series(
                "Memory Utilization — All Nodes",
                "(MemTotal - MemAvailable) / MemTotal per node. Yellow zone > 70%, red > 90%.",
                "percent",
                at(12, y, 12, 8),
                prom(f"100 * instance:node_memory_utilisation:ratio{{{NODE_JOB}}}", "{{instance}}"),
            ),
            (None, "transparent"),
            (70, "yellow"),
            (90, "red"),
        )
        .max(100)
        .min(0),
        series(
            "Request Throughput",
            "Requests per second by service at the ingress (API, Airflow, MLflow).",
            "reqps",
            at(0, y + 8, 12, 8),
            prom("sum by (service) (service_code:traefik_service_requests:rate5m)", "{{service}}"),
            stacked=True,
            fill=40,
        ).interval("1m"),  # a 5-minute rate: a finer step draws the same line
        series(
            "Error Timeline",
            "Events per 5 minutes: container restarts, OOM kills, failed pods. Zero baseline = healthy.",
            "short",
            at(12, y + 8, 12, 8),
            prom("sum(namespace:kube_pod_container_status_restarts:increase5m) or vector(0)", "restarts", "A"),
            prom("sum(namespace:kube_pod_container_oom_kills:increase5m) or vector(0)", "OOM kills", "B"),
            prom('sum(namespace_phase:kube_pod_status_phase:sum{phase="Failed"}) or vector(0)', "failed pods", "C"),
            bars=True,
        )
        .interval("5m")  # one bar per 5 minutes: each is the 5 minutes' increase, none counted twice
        .color_scheme(db.FieldColor().mode(FieldColorModeId.FIXED).fixed_color("red")),
    ]


def resource_efficiency(y: int) -> list:
    """3. Investigate: are resources well used?  Waste vs saturation."""

    def eff_gauge(
        title: str, description: str, expr: str, steps: list[tuple[float | None, str]], x: int
    ) -> gauge.Panel:
        return (
            gauge.Panel()
            .title(title)
            .description(description)
            .unit("percent")
            .datasource(PROMETHEUS)
            .with_target(prom(expr, instant=True))
            .thresholds(thresholds(*steps))
            .min(0)
            .max(100)
            .grid_pos(at(x, y, 4, 8))
        )

    category_colors = {"ftf": "orange", "airflow": "blue", "mlflow": "green", "other": "grey"}

    def balance(title: str, description: str, expr: str, unit: str, x: int) -> piechart.Panel:
        panel = (
            piechart.Panel()
            .title(title)
            .description(description)
            .unit(unit)
            .datasource(PROMETHEUS)
            .with_target(prom(expr, "{{category}}", instant=True))
            .grid_pos(at(x, y + 8, 12, 8))
            .pie_type(PieChartType.PIE)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
        for category, color in category_colors.items():
            panel = panel.override_by_name(
                category, [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": color})]
            )
        return panel

    return [
        eff_gauge(
            "CPU Efficiency",
            "CPU used / CPU requested by running pods. Red < 50% (waste), green > 80%.",
            "100 * cluster:container_cpu_usage_seconds:efficiency_ratio",
            [(None, "red"), (50, "yellow"), (80, "green")],
            0,
        ),
        eff_gauge(
            "Memory Efficiency",
            "Working set / memory requested by running pods. Red < 50%, green > 60%.",
            "100 * cluster:container_memory_working_set_bytes:efficiency_ratio",
            [(None, "red"), (50, "yellow"), (60, "green")],
            4,
        ),
        eff_gauge(
            "Disk Usage",
            "Fullest persistent volume. Alert at 90%, red above 85%.",
            "100 * max(namespace_persistentvolumeclaim:kubelet_volume_stats_used:ratio)",
            [(None, "green"), (70, "yellow"), (85, "red")],
            8,
        ),
        (
            barchart.Panel()
            .title("Top 5 CPU Consumers")
            .description("Pods using the most CPU now, in cores.")
            .unit("short")
            .datasource(PROMETHEUS)
            .orientation(common.VizOrientation.HORIZONTAL)
            .with_target(
                prom("topk(5, namespace_pod:container_cpu_usage_seconds:rate5m)", "{{pod}}", instant=True).format(
                    PromQueryFormat.TABLE
                )
            )
            .grid_pos(at(12, y, 12, 8))
        ),
        balance(
            "CPU Balance",
            "CPU use by category (pod name): fine-tuning, Airflow, MLflow, other.",
            "category:container_cpu_usage_seconds:rate5m",
            "short",
            0,
        ),
        balance(
            "Memory Balance",
            "Working set by category (pod name): fine-tuning, Airflow, MLflow, other.",
            "category:container_memory_working_set_bytes:sum",
            "bytes",
            12,
        ),
    ]


def ftf_parallel_execution(y: int) -> list:
    """4. Is the fine-tuning run parallel and balanced?  Stragglers?"""
    limit = "limit"
    return [
        series(
            "FTF CPU per Pod",
            "CPU cores per fine-tuning pod; red dashed: the pods' CPU limit.",
            "short",
            at(0, y, 12, 10),
            prom('namespace_pod:container_cpu_usage_seconds:rate5m{pod=~"finetune.*"}', "{{pod}}", "A"),
            prom('max(kube_pod_container_resource_limits{resource="cpu", pod=~"finetune.*"})', limit, "B"),
        ).override_by_name(limit, dashed_red()),
        zones(
            series(
                "CPU Throttling",
                "Share of CFS periods throttled per fine-tuning container. "
                "Green < 30%, yellow 30-50%, red > 50% (limit too low).",
                "percent",
                at(12, y, 12, 10),
                prom(
                    '100 * namespace_pod_container:container_cpu_cfs_throttled:ratio_rate5m{pod=~"finetune.*"}',
                    "{{pod}}",
                ),
            ),
            (None, "green"),
            (30, "yellow"),
            (50, "red"),
        ),
        series(
            "FTF Memory per Pod",
            "Working set per fine-tuning pod; red dashed: the pods' memory limit.",
            "bytes",
            at(0, y + 10, 12, 10),
            prom('namespace_pod:container_memory_working_set_bytes:sum{pod=~"finetune.*"}', "{{pod}}", "A"),
            prom('max(kube_pod_container_resource_limits{resource="memory", pod=~"finetune.*"})', limit, "B"),
        ).override_by_name(limit, dashed_red()),
        series(
            "FTF Disk I/O",
            "Bytes written (checkpoints) and read (data loads) per second by fine-tuning pods.",
            "Bps",
            at(12, y + 10, 12, 10),
            prom(
                'sum by (pod) (rate(container_fs_writes_bytes_total{pod=~"finetune.*", container!=""}'
                "[$__rate_interval]))",
                "write {{pod}}",
                "A",
            ),
            prom(
                'sum by (pod) (rate(container_fs_reads_bytes_total{pod=~"finetune.*", container!=""}'
                "[$__rate_interval]))",
                "read {{pod}}",
                "B",
            ),
        ),
    ]


def autoscaler_and_latency(y: int) -> list:
    """5. How does the autoscaler behave?  Cold-start impact."""
    ready: list[ValueMapping] = [
        ValueMap(
            {
                "1": ValueMappingResult(text="Ready", color="green"),
                "0": ValueMappingResult(text="NotReady", color="red"),
            }
        )
    ]
    return [
        (
            statetimeline.Panel()
            .title("Node Lifecycle Timeline")
            .description("Ready state per node over time; grey (no data) = the node did not exist.")
            .unit("none")
            .datasource(PROMETHEUS)
            .mappings(ready)
            .grid_pos(at(0, y, 12, 6))
            .with_target(
                prom('max by (node) (kube_node_status_condition{condition="Ready", status="true"})', "{{node}}")
            )
        ),
        stat_panel(
            "Compute Uptime",
            "Age of the newest compute node (0 when the pool is asleep).",
            "s",
            prom('(time() - max(kube_node_created{node=~".*compute.*"})) or vector(0)', instant=True),
            [(None, "blue"), (1, "orange")],
            at(12, y, 3, 6),
        ),
        stat_panel(
            "Wake-up Time",
            "From the first fine-tuning pod's creation to the compute node's creation. Green < 5 min.",
            "s",
            prom(
                'clamp_min(max(kube_node_created{node=~".*compute.*"}) - min(kube_pod_created{pod=~"finetune.*"}), 0)',
                instant=True,
            ),
            [(None, "green"), (300, "red")],
            at(15, y, 3, 6),
        ),
        (
            table.Panel()
            .title("Scale Events")
            .description("When compute nodes and fine-tuning pods were created (newest first).")
            .unit("dateTimeAsIso")
            .datasource(PROMETHEUS)
            .grid_pos(at(18, y, 6, 6))
            .with_target(
                prom('kube_node_created{node=~".*compute.*"} * 1000', "{{node}} up", "A", instant=True).format(
                    PromQueryFormat.TABLE
                )
            )
            .with_target(
                prom('kube_pod_created{pod=~"finetune.*"} * 1000', "{{pod}} scheduled", "B", instant=True).format(
                    PromQueryFormat.TABLE
                )
            )
            .sort_by([cb.TableSortByFieldState().display_name("Value").desc(True)])
        ),
    ]
