"""The trading platform on Scaleway: one stack per environment.

Table of contents: read and validate the stack's config, build the components layer by layer
(Scaleway, the cluster's base, observability and alerting), export the outputs other teams
rely on (components/outputs.py).  README "Code map" says what each package owns.
"""

import pulumi

from components import preflight
from components.alerting.on_call import OnCall, OnCallArgs
from components.alerting.rules import Alerting, AlertingArgs
from components.cluster_base.basics import ClusterBasics, ClusterBasicsArgs
from components.config import InvalidConfig
from components.observability import sizing
from components.observability.exporters import Exporters, ExportersArgs
from components.observability.grafana import GrafanaAdmin, GrafanaObjects, GrafanaObjectsArgs
from components.observability.logs import Logs, LogsArgs
from components.observability.monitoring import Monitoring, MonitoringArgs
from components.observability.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.observability.tracing import Tracing, TracingArgs
from components.outputs import export_all
from components.scaleway import cost, hardware
from components.scaleway.cluster import Cluster, ClusterArgs
from components.scaleway.critical_path import CriticalPathHosts, CriticalPathHostsArgs
from components.scaleway.network import Network, NetworkArgs
from components.scaleway.storage import ObjectStorage, ObjectStorageArgs
from components.topology import MONITORING_NAMESPACE, OTLP_GRPC_IN_CLUSTER, OTLP_GRPC_PORT, OTLP_HTTP_IN_CLUSTER
from dashboards import infrastructure

# 1. Configuration: every problem reported at once, before any resource is declared.
try:
    config = preflight.from_pulumi()
except InvalidConfig as problems:
    pulumi.log.error(problems.report())
    raise pulumi.RunError("invalid stack configuration (see the problems above)") from None

prefix, tags = config.prefix, config.tags
# Each critical-path host's CPU layout, derived from its offer's hardware as Scaleway lists it.
host_layouts = hardware.layouts(config, hardware.scaleway_offer)
for warning in hardware.stock_warnings(config, hardware.scaleway_offer):
    pulumi.log.warn(warning)

# 2. Scaleway: network, cluster and pools, critical-path hosts, object storage.
network = Network(
    "network", NetworkArgs(prefix=prefix, config=config.network, protect=config.protect_stateful, tags=tags)
)

cluster = Cluster(
    "cluster",
    ClusterArgs(
        prefix=prefix,
        network=config.network,
        cluster=config.cluster,
        permanent_pool=config.permanent_pool,
        compute_pool=config.compute_pool,
        low_latency_pool=config.low_latency_pool,
        private_network_id=network.private_network_id,
        gateway_network=network.gateway_network,
        protect=config.protect_stateful,
        api_allow_list=config.api_allow_list,
        tags=tags,
    ),
)

critical_path_hosts = CriticalPathHosts(
    "critical-path",
    CriticalPathHostsArgs(
        prefix=prefix,
        hosts=config.critical_path_hosts,
        layouts=host_layouts,
        tuning=config.host_tuning,
        network=config.network,
        private_network_id=network.private_network_id,
        ssh_key_ids=config.ssh_key_ids,
        ssh_private_key=config.secrets.host_ssh_private_key.output() if config.secrets.host_ssh_private_key else None,
        otlp_grpc_endpoint=network.telemetry_gateway_address.apply(lambda ip: f"http://{ip}:{OTLP_GRPC_PORT}"),
        protect=config.protect_stateful,
        tags=tags,
    ),
)

storage = ObjectStorage(
    "storage",
    ObjectStorageArgs(
        prefix=prefix,
        bucket_suffix=config.bucket_suffix,
        organization_id=config.organization_id,
        key_expires_on=config.telemetry_key_expires_on,
        network=config.network,
        retention={"loki": config.observability.loki_retention, "tempo": config.observability.tempo_retention},
        protect=config.protect_stateful,
        tags=tags,
    ),
)

# 3. The cluster's base: namespaces, priority class, CRDs; then the on-call chain in PagerDuty,
#    alert rules and routing.
basics = ClusterBasics(
    "cluster-basics",
    ClusterBasicsArgs(
        monitoring_namespace=MONITORING_NAMESPACE,
        workload_namespaces=config.workload_namespaces,
        provider=cluster.provider,
        protect=config.protect_stateful,
    ),
)

on_call = (
    OnCall("on-call", OnCallArgs(prefix=prefix, on_call=config.alerting.on_call, protect=config.protect_stateful))
    if config.alerting.on_call is not None
    else None
)
alerting = Alerting(
    "alerting",
    AlertingArgs(
        namespace=basics.monitoring_namespace,
        alerting=config.alerting,
        secrets=config.secrets,
        pagerduty_routing_key=on_call.routing_key if on_call else None,
        incident_url=on_call.service_url if on_call else None,
        provider=cluster.provider,
        crds=basics.prometheus_operator_crds,
    ),
)

# 4. Observability: who may talk to whom, metrics, logs, traces, exporters, then Grafana's objects.
network_policies = NetworkPolicies(
    "network-policies",
    NetworkPoliciesArgs(
        namespace=basics.monitoring_namespace,
        private_subnet=config.network.private_subnet,
        workload_namespaces=config.workload_namespaces,
        provider=cluster.provider,
    ),
)
grafana_admin = GrafanaAdmin("grafana-admin", protect=config.protect_stateful)
monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        environment=config.environment,
        namespace=basics.monitoring_namespace,
        observability=config.observability,
        grafana=config.grafana,
        grafana_admin_password=grafana_admin.secret_password,
        critical_path_ips=critical_path_hosts.private_ips,
        provider=cluster.provider,
        depends_on=[basics.prometheus_operator_crds, alerting.alertmanager_config],
    ),
)
logs = Logs(
    "logs",
    LogsArgs(
        namespace=basics.monitoring_namespace,
        observability=config.observability,
        network=config.network,
        bucket=storage.bucket_names["loki"],
        s3_access_key=storage.access_key,
        s3_secret_key=storage.secret_key,
        provider=cluster.provider,
        depends_on=[monitoring.release],
    ),
)
tracing = Tracing(
    "tracing",
    TracingArgs(
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
    ),
)
exporters = Exporters(
    "exporters",
    ExportersArgs(
        namespace=basics.monitoring_namespace,
        observability=config.observability,
        grafana=config.grafana,
        postgres_password=config.secrets.grafana_postgres_password,
        provider=cluster.provider,
        depends_on=[monitoring.release],
    ),
)
cost_estimate = cost.estimate(config, sizing.volumes_gib(config))
grafana_objects = GrafanaObjects(
    "grafana",
    GrafanaObjectsArgs(
        grafana=config.grafana,
        alerting=config.alerting,
        postgres_password=config.secrets.grafana_postgres_password,
        alertmanager_url=monitoring.alertmanager_url,
        prometheus_url=monitoring.prometheus_url,
        loki_url=logs.loki_url,
        tempo_url=tracing.tempo_url,
        admin=grafana_admin,
        dashboards={
            infrastructure.UID: infrastructure.build(
                infrastructure.CostModel.from_estimate(cost_estimate), config.alerting.runbook_base_url
            )
        },
        depends_on=[monitoring.release, exporters.traefik, exporters.cluster_issuer],
    ),
)

# 5. Outputs: exactly the contract in components/outputs.py.
pool_ids = {"permanent": cluster.permanent_pool.id, "compute": cluster.compute_pool.id}
if cluster.low_latency_pool is not None:
    pool_ids["low-latency"] = cluster.low_latency_pool.id

export_all(
    {
        "environment": config.environment,
        "cluster_id": cluster.cluster.id,
        "cluster_api_url": cluster.cluster.apiserver_url,
        "cluster_ca_certificate": cluster.ca_certificate,
        "private_network_id": network.private_network_id,
        "pool_ids": pool_ids,
        "critical_path_private_ips": critical_path_hosts.private_ips,
        "bucket_names": storage.bucket_names,
        "s3_endpoint": storage.s3_endpoint,
        "estimated_cost_eur_per_hour": cost_estimate,
        "alertmanager_config_secret": alerting.alertmanager_config_secret,
        "runbook_base_url": config.alerting.runbook_base_url,
        "grafana_url": grafana_objects.url,
        "prometheus_url": monitoring.prometheus_url,
        "alertmanager_url": monitoring.alertmanager_url,
        "otlp_grpc_endpoint": OTLP_GRPC_IN_CLUSTER,
        "otlp_http_endpoint": OTLP_HTTP_IN_CLUSTER,
        "otlp_grpc_private_endpoint": tracing.otlp_grpc_private,
        "otlp_http_private_endpoint": tracing.otlp_http_private,
        "loki_push_url": logs.loki_push_url,
        "tempo_query_url": tracing.tempo_url,
        "permanent_pool_requests": sizing.permanent_pool_summary(config),
    }
)
