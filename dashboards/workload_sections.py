"""Sections 6 to 8: swap and system health, process sizing, application health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    gauge,
    table,
)
from grafana_foundation_sdk.models.dashboard import (
    DynamicConfigValue,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards.panels import (
    PROMETHEUS,
    at,
    dashed_red,
    db_transform,
    prom,
    series,
    stat_panel,
    thresholds,
    zones,
)


def swap_and_system_health(y: int) -> list:
    """6. System level: swap is memory pressure, an early warning."""
    return [
        zones(
            series(
                "Swap Usage per Node",
                "Swap in use per node. Any swap > 0 = memory pressure (alert).",
                "bytes",
                at(0, y, 12, 6),
                prom("instance:node_swap_used_bytes:sum", "{{instance}}"),
            ),
            (None, "green"),
            (1, "red"),
        ),
        zones(
            series(
                "Open File Descriptors",
                "Allocated / maximum file descriptors per node: high = leak. Alert above 80%.",
                "percent",
                at(12, y, 12, 6),
                prom("100 * node_filefd_allocated / node_filefd_maximum", "{{instance}}"),
            ),
            (None, "green"),
            (80, "red"),
        ),
        series(
            "Network Throughput",
            "Received (+) and transmitted (-) bytes per second per namespace (a production cluster runs 800 "
            "pods: per pod, Explore namespace_pod rates with topk).",
            "Bps",
            at(0, y + 6, 12, 6),
            prom("namespace:container_network_receive_bytes:rate5m", "rx {{namespace}}", "A"),
            prom("-namespace:container_network_transmit_bytes:rate5m", "tx {{namespace}}", "B"),
            stacked=True,
        ).interval("1m"),  # a 5-minute rate: a finer step draws the same line
        (
            gauge.Panel()
            .title("PVC Usage")
            .description("Used share of each persistent volume. Green < 70%, yellow 70-85%, red > 85%.")
            .unit("percent")
            .datasource(PROMETHEUS)
            .min(0)
            .max(100)
            .grid_pos(at(12, y + 6, 12, 6))
            .with_target(
                prom(
                    "100 * namespace_persistentvolumeclaim:kubelet_volume_stats_used:ratio",
                    "{{persistentvolumeclaim}}",
                    instant=True,
                )
            )
            .thresholds(thresholds((None, "green"), (70, "yellow"), (85, "red")))
        ),
    ]


def process_sizing(y: int) -> list:
    """7. Are pods sized right?  Under-provisioned = throttled, over-provisioned = waste."""
    req = 'sum by (namespace, pod) (kube_pod_container_resource_{kind}{{resource="{res}"}})'
    queries = [
        ("A", req.format(kind="requests", res="cpu"), "CPU req"),
        ("B", req.format(kind="limits", res="cpu"), "CPU lim"),
        ("C", "namespace_pod:container_cpu_usage_seconds:rate5m", "CPU used"),
        (
            "D",
            "100 * namespace_pod:container_cpu_usage_seconds:rate5m / " + req.format(kind="limits", res="cpu"),
            "CPU %",
        ),
        ("E", req.format(kind="requests", res="memory"), "MEM req"),
        ("F", req.format(kind="limits", res="memory"), "MEM lim"),
        ("G", "namespace_pod:container_memory_working_set_bytes:sum", "MEM used"),
        (
            "H",
            "100 * namespace_pod:container_memory_working_set_bytes:sum / " + req.format(kind="limits", res="memory"),
            "MEM %",
        ),
    ]
    panel = (
        table.Panel()
        .title("Pod Sizing Table")
        .description(
            "Requests, limits and use per pod. CPU% > 90 red (throttled), < 20 blue (over-provisioned); "
            "MEM% > 80 red (OOM risk), < 20 blue."
        )
        .unit("short")
        .datasource(PROMETHEUS)
        .grid_pos(at(0, y, 24, 6))
    )
    for ref, expr, _ in queries:
        panel = panel.with_target(prom(expr, "", ref, instant=True).format(PromQueryFormat.TABLE))
    for name, unit in (
        ("Value #A", "short"),
        ("Value #B", "short"),
        ("Value #C", "short"),
        ("Value #E", "bytes"),
        ("Value #F", "bytes"),
        ("Value #G", "bytes"),
    ):
        panel = panel.override_by_name(name, [DynamicConfigValue("unit", unit)])
    for name, red in (("Value #D", 90), ("Value #H", 80)):
        panel = panel.override_by_name(
            name,
            [
                DynamicConfigValue("unit", "percent"),
                DynamicConfigValue("custom.cellOptions", {"type": "color-background"}),
                DynamicConfigValue(
                    "thresholds",
                    {
                        "mode": "absolute",
                        "steps": [
                            {"value": None, "color": "blue"},
                            {"value": 20, "color": "green"},
                            {"value": red, "color": "red"},
                        ],
                    },
                ),
            ],
        )
    return [
        panel.with_transformation(db_transform("merge")).with_transformation(
            db_transform(
                "organize",
                {
                    "excludeByName": {"Time": True},
                    "renameByName": {f"Value #{ref}": title for ref, _, title in queries},
                },
            )
        )
    ]


def application_health(y: int) -> list:
    """8. DB, HTTP errors, latency, certificates, DNS."""
    pool_max = "pool max"
    latency = lambda q, ref: prom(  # noqa: E731
        f"histogram_quantile({q}, service_le:traefik_service_request_duration_seconds_bucket:rate5m)",
        f"p{int(q * 100)} {{{{service}}}}",
        ref,
    )
    return [
        series(
            "DB Connections",
            "PostgreSQL sessions vs max_connections (red dashed). Alert above 80%.",
            "short",
            at(0, y, 12, 8),
            prom("sum by (instance) (pg_stat_activity_count)", "active {{instance}}", "A"),
            prom("max by (instance) (pg_settings_max_connections)", pool_max, "B"),
        ).override_by_name(pool_max, dashed_red()),
        series(
            "HTTP Error Rates by Service",
            "4xx (yellow) and 5xx (red) responses per second by service. Zero = healthy.",
            "reqps",
            at(12, y, 12, 8),
            prom(
                'sum by (service) (service_code:traefik_service_requests:rate5m{code=~"4.."})',
                "4xx {{service}}",
                "A",
            ),
            prom(
                'sum by (service) (service_code:traefik_service_requests:rate5m{code=~"5.."})',
                "5xx {{service}}",
                "B",
            ),
        )
        .interval("1m")
        .override_by_regexp("4xx.*", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "yellow"})])
        .override_by_regexp("5xx.*", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "red"})]),
        zones(
            series(
                "Response Latency p50/p95/p99",
                "Request duration quantiles by service at the ingress. Green < 100 ms, red > 500 ms.",
                "s",
                at(0, y + 8, 12, 8),
                latency(0.5, "A"),
                latency(0.95, "B"),
                latency(0.99, "C"),
            ).interval("1m"),
            (None, "green"),
            (0.1, "yellow"),
            (0.5, "red"),
        ),
        stat_panel(
            "Certificate Expiry",
            "Days until each cert-manager certificate expires. > 30 d green, 7-30 d yellow, < 7 d red.",
            "d",
            prom(
                "min by (name) ((certmanager_certificate_expiration_timestamp_seconds - time()) / 86400)",
                "{{name}}",
                instant=True,
            ),
            [(None, "red"), (7, "yellow"), (30, "green")],
            at(12, y + 8, 12, 8),
        ),
        zones(
            series(
                "DNS Resolution Time",
                "DNS lookup time of the external APIs (Binance, Langfuse, "
                "Scaleway S3), from the blackbox probes. Green < 50 ms, yellow 50-200 ms, red > 200 ms.",
                "s",
                at(0, y + 16, 24, 8),
                prom("max by (instance) (probe_dns_lookup_time_seconds)", "{{instance}}"),
            ),
            (None, "green"),
            (0.05, "yellow"),
            (0.2, "red"),
        ),
    ]
