"""The trading platform on Scaleway: one stack per environment.

Table of contents: read and validate the stack's config, build the components, export the
outputs other teams rely on (components/outputs.py).
"""

import pulumi

from components import config as stack_config
from components import cost, sizing
from components.alerting import Alerting, AlertingArgs
from components.cloud_init import HostEndpoints
from components.cluster import Cluster, ClusterArgs
from components.cluster_basics import ClusterBasics, ClusterBasicsArgs
from components.critical_path import CriticalPathHosts, CriticalPathHostsArgs
from components.exporters import Exporters, ExportersArgs
from components.grafana import GrafanaAdmin, GrafanaObjects, GrafanaObjectsArgs
from components.logs import Logs, LogsArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.outputs import export_all
from components.storage import ObjectStorage, ObjectStorageArgs
from components.tracing import OTLP_GRPC_IN_CLUSTER, OTLP_HTTP_IN_CLUSTER, Tracing, TracingArgs
from dashboards import infrastructure

# 1. Configuration: every problem reported at once, before any resource is declared.
try:
    config = stack_config.from_pulumi()
except stack_config.InvalidConfig as problems:
    pulumi.log.error(problems.report())
    raise pulumi.RunError("invalid stack configuration (see the problems above)") from None

prefix = f"trading-{config.environment}"
tags = [f"env={config.environment}", "app=trading-platform", "managed-by=pulumi"]

# 2. Scaleway: network, cluster and pools, critical-path hosts, object storage.
network = Network("network", NetworkArgs(prefix=prefix, config=config.network, tags=tags))

cluster = Cluster("cluster", ClusterArgs(
    prefix=prefix,
    network=config.network,
    cluster=config.cluster,
    permanent_pool=config.permanent_pool,
    compute_pool=config.compute_pool,
    low_latency_pool=config.low_latency_pool,
    private_network_id=network.private_network_id,
    tags=tags,
))

telemetry_endpoints = network.telemetry_gateway_address.apply(
    lambda ip: HostEndpoints(otlp_grpc_endpoint=f"http://{ip}:4317"))

critical_path_hosts = CriticalPathHosts("critical-path", CriticalPathHostsArgs(
    prefix=prefix,
    hosts=config.critical_path_hosts,
    network=config.network,
    private_network_id=network.private_network_id,
    ssh_key_ids=config.ssh_key_ids,
    endpoints=telemetry_endpoints,
    protect=config.protect_stateful,
    tags=tags,
))

storage = ObjectStorage("storage", ObjectStorageArgs(
    prefix=prefix,
    network=config.network,
    retention={"loki": config.observability.loki_retention, "tempo": config.observability.tempo_retention},
    protect=config.protect_stateful,
    tags=tags,
))

# 3. Kubernetes: namespaces, priority class, CRDs; then alert rules and escalation.
basics = ClusterBasics("cluster-basics", ClusterBasicsArgs(
    monitoring_namespace="monitoring",
    workload_namespaces=config.workload_namespaces,
    provider=cluster.provider,
))

alerting = Alerting("alerting", AlertingArgs(
    namespace=basics.monitoring_namespace,
    alerting=config.alerting,
    secrets=config.secrets,
    provider=cluster.provider,
    crds=basics.prometheus_operator_crds,
))

# 4. Observability: metrics, logs, traces, exporters, then Grafana's own objects.
grafana_admin = GrafanaAdmin("grafana-admin")
monitoring = Monitoring("monitoring", MonitoringArgs(
    environment=config.environment,
    namespace=basics.monitoring_namespace,
    observability=config.observability,
    grafana=config.grafana,
    grafana_admin_password=grafana_admin.secret_password,
    critical_path_ips=critical_path_hosts.private_ips,
    provider=cluster.provider,
    depends_on=[basics.prometheus_operator_crds, alerting.alertmanager_config],
))
logs = Logs("logs", LogsArgs(
    namespace=basics.monitoring_namespace,
    observability=config.observability,
    network=config.network,
    bucket=storage.bucket_names["loki"],
    s3_access_key=storage.access_key,
    s3_secret_key=storage.secret_key,
    provider=cluster.provider,
    depends_on=[monitoring.release],
))
tracing = Tracing("tracing", TracingArgs(
    prefix=prefix,
    namespace=basics.monitoring_namespace,
    observability=config.observability,
    network=config.network,
    bucket=storage.bucket_names["tempo"],
    private_network_id=network.private_network_id,
    gateway_ip_id=network.telemetry_gateway_ip.id,
    gateway_address=network.telemetry_gateway_address,
    provider=cluster.provider,
    depends_on=[logs.s3_secret, monitoring.release],
    tags=tags,
))
exporters = Exporters("exporters", ExportersArgs(
    namespace=basics.monitoring_namespace,
    observability=config.observability,
    grafana=config.grafana,
    postgres_password=config.secrets.grafana_postgres_password,
    provider=cluster.provider,
    depends_on=[monitoring.release],
))
grafana_objects = GrafanaObjects("grafana", GrafanaObjectsArgs(
    grafana=config.grafana,
    alerting=config.alerting,
    postgres_password=config.secrets.grafana_postgres_password,
    alertmanager_url=monitoring.alertmanager_url,
    prometheus_url=monitoring.prometheus_url,
    loki_url=logs.loki_url,
    tempo_url=tracing.tempo_url,
    admin=grafana_admin,
    dashboards={infrastructure.UID: infrastructure.build(cost.dashboard_cost_model(config),
                                                         config.alerting.runbook_base_url)},
    depends_on=[monitoring.release, exporters.traefik, exporters.cluster_issuer],
))

# 5. Outputs: exactly the contract in components/outputs.py.
pool_ids = {"permanent": cluster.permanent_pool.id, "compute": cluster.compute_pool.id}
if cluster.low_latency_pool is not None:
    pool_ids["low-latency"] = cluster.low_latency_pool.id

export_all({
    "environment": config.environment,
    "cluster_id": cluster.cluster.id,
    "cluster_api_url": cluster.cluster.apiserver_url,
    "kubeconfig": cluster.kubeconfig,
    "private_network_id": network.private_network_id,
    "pool_ids": pool_ids,
    "critical_path_private_ips": critical_path_hosts.private_ips,
    "bucket_names": storage.bucket_names,
    "s3_endpoint": storage.s3_endpoint,
    "estimated_cost_eur_per_hour": cost.estimate(config),
    "alertmanager_config_secret": alerting.alertmanager_config_secret,
    "runbook_base_url": config.alerting.runbook_base_url,
    "grafana_url": grafana_objects.url,
    "grafana_admin_password": grafana_admin.secret_password,
    "prometheus_url": monitoring.prometheus_url,
    "alertmanager_url": monitoring.alertmanager_url,
    "otlp_grpc_endpoint": OTLP_GRPC_IN_CLUSTER,
    "otlp_http_endpoint": OTLP_HTTP_IN_CLUSTER,
    "otlp_grpc_private_endpoint": tracing.otlp_grpc_private,
    "otlp_http_private_endpoint": tracing.otlp_http_private,
    "loki_push_url": logs.loki_push_url,
    "tempo_query_url": tracing.tempo_url,
    "permanent_pool_requests": sizing.permanent_pool_summary(config),
})
