"""Airflow's metrics: a statsd exporter with the Airflow mapping, declared as plain Kubernetes
objects (ConfigMap, Deployment, Service, ServiceMonitor).

Not the prometheus-statsd-exporter chart: its templates offer no priority class, so a
`high-priority` HFT workload could preempt it; four objects are easier to own than a chart.
Airflow sends to it with ``AIRFLOW__METRICS__STATSD_ON=True``,
``AIRFLOW__METRICS__STATSD_HOST=statsd-exporter.monitoring.svc``, port 9125 (UDP).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.observability import sizing
from components.topology import PERMANENT_NODES, PLATFORM_STANDARD_CLASS, STATSD_EXPORTER_SERVICE

STATSD_UDP_PORT = 9125
METRICS_PORT = 9102
MAPPING_FILE = "statsd-mapping.yaml"
LABELS = {"app.kubernetes.io/name": STATSD_EXPORTER_SERVICE, "app.kubernetes.io/part-of": "trading-platform"}

# Names and labels as the Airflow Helm chart's statsd mapping gives them (../shared/reference/
# metrics/airflow-statsd.txt), plus the pool queued/running slots and task failures the chart
# leaves unmapped.
AIRFLOW_STATSD_MAPPING = """mappings:
  - match: "airflow.scheduler_heartbeat"
    name: "airflow_scheduler_heartbeat"
  - match: "airflow.dag_processing.total_parse_time"
    name: "airflow_dag_processing_total_parse_time"
  - match: "airflow.pool.open_slots.*"
    name: "airflow_pool_open_slots"
    labels:
      pool: "$1"
  - match: "airflow.pool.queued_slots.*"
    name: "airflow_pool_queued_slots"
    labels:
      pool: "$1"
  - match: "airflow.pool.running_slots.*"
    name: "airflow_pool_running_slots"
    labels:
      pool: "$1"
  - match: "airflow.ti_failures"
    name: "airflow_ti_failures"
"""


def declare(
    name: str, namespace: pulumi.Input[str], provider: k8s.Provider, parent: pulumi.Resource
) -> list[pulumi.Resource]:
    """The exporter's objects, in the order Kubernetes needs them."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    meta = k8s.meta.v1.ObjectMetaArgs(name=STATSD_EXPORTER_SERVICE, namespace=namespace, labels=LABELS)
    mapping = k8s.core.v1.ConfigMap(
        f"{name}-mapping", metadata=meta, data={MAPPING_FILE: AIRFLOW_STATSD_MAPPING}, opts=opts
    )
    image = pins.image("statsd-exporter")
    container = k8s.core.v1.ContainerArgs(
        name="statsd-exporter",
        image=f"{image.repository}:{image.tag}",
        args=[
            f"--web.listen-address=:{METRICS_PORT}",
            f"--statsd.listen-udp=:{STATSD_UDP_PORT}",
            "--statsd.listen-tcp=",
            f"--statsd.mapping-config=/etc/statsd/{MAPPING_FILE}",
        ],
        ports=[
            k8s.core.v1.ContainerPortArgs(name="metrics", container_port=METRICS_PORT),
            k8s.core.v1.ContainerPortArgs(name="statsd-udp", container_port=STATSD_UDP_PORT, protocol="UDP"),
        ],
        resources=k8s.core.v1.ResourceRequirementsArgs(**sizing.resources("statsd-exporter")),
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name="mapping", mount_path="/etc/statsd", read_only=True)],
        readiness_probe=k8s.core.v1.ProbeArgs(http_get=k8s.core.v1.HTTPGetActionArgs(path="/-/ready", port="metrics")),
        security_context=k8s.core.v1.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=65534,
            run_as_group=65534,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        ),
    )
    mapping_volume = k8s.core.v1.ConfigMapVolumeSourceArgs(name=STATSD_EXPORTER_SERVICE)
    deployment = k8s.apps.v1.Deployment(
        f"{name}-deployment",
        metadata=meta,
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=LABELS),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=LABELS),
                spec=k8s.core.v1.PodSpecArgs(
                    containers=[container],
                    volumes=[
                        k8s.core.v1.VolumeArgs(
                            name="mapping",
                            config_map=mapping_volume,
                        )
                    ],
                    node_selector=PERMANENT_NODES,
                    priority_class_name=PLATFORM_STANDARD_CLASS,
                    automount_service_account_token=False,
                ),
            ),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[mapping])),
    )
    service = k8s.core.v1.Service(
        f"{name}-service",
        metadata=meta,
        spec=k8s.core.v1.ServiceSpecArgs(
            selector=LABELS,
            ports=[
                k8s.core.v1.ServicePortArgs(name="metrics", port=METRICS_PORT, target_port="metrics"),
                k8s.core.v1.ServicePortArgs(
                    name="statsd-udp", port=STATSD_UDP_PORT, target_port="statsd-udp", protocol="UDP"
                ),
            ],
        ),
        opts=opts,
    )
    monitor = k8s.apiextensions.CustomResource(
        f"{name}-monitor",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=meta,
        spec={"selector": {"matchLabels": LABELS}, "endpoints": [{"port": "metrics", "interval": "30s"}]},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[service])),
    )
    return [mapping, deployment, service, monitor]
