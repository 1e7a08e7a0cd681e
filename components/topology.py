"""The in-cluster topology every component shares: namespaces, node placement, Services and
their ports, URLs, Secret names and labels.

Components depend on this module and on config, never on each other's constants: when
Loki's Service is renamed, this is the one line that changes, and the collector, Grafana's
data source and the outputs follow.  Names here must match what the charts render from the
release names and ``fullnameOverride`` values the components pass (the manifest tests check
every URL against a rendered Service).
"""

from __future__ import annotations

from typing import Final

# ---- namespaces --------------------------------------------------------------------------
MONITORING_NAMESPACE: Final = "monitoring"
CERT_MANAGER_NAMESPACE: Final = "cert-manager"
INGRESS_NAMESPACE: Final = "traefik"

# ---- node placement ----------------------------------------------------------------------
POOL_LABEL: Final = "platform.trading/pool"
PERMANENT_NODES: Final = {POOL_LABEL: "permanent"}  # nodeSelector of everything always on
BATCH_TAINT: Final = {"key": "platform.trading/workload", "value": "batch", "effect": "NoSchedule"}
LOW_LATENCY_TAINT: Final = {"key": "platform.trading/latency", "value": "low", "effect": "NoSchedule"}
# DaemonSets run on every node, tainted pools included.
EVERY_NODE_TOLERATIONS: Final = [
    {"key": BATCH_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"},
    {"key": LOW_LATENCY_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"},
]
# Priority classes.  The monitoring of the trading path must never be the victim: Prometheus,
# Alertmanager, the telemetry gateway and the ingress sit above the HFT support services'
# `high-priority`; the rest of the platform below it; node agents use Kubernetes' own class.
HIGH_PRIORITY_CLASS: Final = "high-priority"  # spec 001: the HFT support services
HIGH_PRIORITY_VALUE: Final = 1_000_000
PLATFORM_CRITICAL_CLASS: Final = "platform-critical"
PLATFORM_CRITICAL_VALUE: Final = 2_000_000
PLATFORM_STANDARD_CLASS: Final = "platform-standard"
PLATFORM_STANDARD_VALUE: Final = 500_000
NODE_AGENT_CLASS: Final = "system-node-critical"  # built in: DaemonSets that every node needs

# ---- releases and Services (in MONITORING_NAMESPACE unless said) -------------------------
KUBE_PROMETHEUS_STACK_RELEASE: Final = "kube-prometheus-stack"
LOKI_RELEASE: Final = "loki"
TEMPO_RELEASE: Final = "tempo"
OTEL_COLLECTOR_SERVICE: Final = "otel-collector"  # the collector chart's fullnameOverride
STATSD_EXPORTER_SERVICE: Final = "statsd-exporter"

OTLP_GRPC_PORT: Final = 4317
OTLP_HTTP_PORT: Final = 4318
NODE_EXPORTER_PORT: Final = 9100  # on the critical-path hosts' private address


def service_host(service: str, namespace: str = MONITORING_NAMESPACE) -> str:
    return f"{service}.{namespace}.svc"


PROMETHEUS_URL: Final = f"http://{service_host(KUBE_PROMETHEUS_STACK_RELEASE + '-prometheus')}:9090"
ALERTMANAGER_URL: Final = f"http://{service_host(KUBE_PROMETHEUS_STACK_RELEASE + '-alertmanager')}:9093"
LOKI_URL: Final = f"http://{service_host(LOKI_RELEASE)}:3100"
LOKI_PUSH_URL: Final = f"{LOKI_URL}/loki/api/v1/push"
TEMPO_URL: Final = f"http://{service_host(TEMPO_RELEASE)}:3200"
TEMPO_OTLP_GRPC: Final = f"{service_host(TEMPO_RELEASE)}:{OTLP_GRPC_PORT}"
OTLP_GRPC_IN_CLUSTER: Final = f"http://{service_host(OTEL_COLLECTOR_SERVICE)}:{OTLP_GRPC_PORT}"
OTLP_HTTP_IN_CLUSTER: Final = f"http://{service_host(OTEL_COLLECTOR_SERVICE)}:{OTLP_HTTP_PORT}"

# ---- Secrets (in MONITORING_NAMESPACE) ---------------------------------------------------
ALERTMANAGER_CONFIG_SECRET: Final = "alertmanager-trading-platform"
GRAFANA_ADMIN_SECRET: Final = "grafana-admin"
TELEMETRY_S3_SECRET: Final = "telemetry-s3"  # S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY for Loki and Tempo
POSTGRES_EXPORTER_SECRET: Final = "postgres-exporter"

# Grafana's data source for the in-cluster Alertmanager: notification links open Grafana's
# alerting UI on it (behind Grafana's login) to silence or inspect.
ALERTMANAGER_DATASOURCE_UID: Final = "alertmanager"

# ---- labels and scrape jobs --------------------------------------------------------------
# kube-prometheus-stack's ruleSelector matches these labels; every PrometheusRule carries them.
RULE_SELECTOR_LABELS: Final = {"platform.trading/rules": "trading-platform"}
CRITICAL_PATH_JOB: Final = "critical-path-node-exporter"
