"""Logs: Loki in the chart's monolithic mode on the Scaleway bucket, and Grafana Alloy as the
DaemonSet that ships every pod's logs with their Kubernetes labels.

Promtail, which spec 002 names, reached end of life on 2026-03-02; Alloy is its successor.

Loki settings chosen deliberately (spec 002 discusses them):
* ``ingestion_rate_mb`` 8 / ``ingestion_burst_size_mb`` 16 per tenant: a fine-tuning run's
  burst of logs fits; a runaway pod is throttled instead of filling the node's disk;
* ``chunk_idle_period`` 30m: a quiet stream's chunk is flushed after 30 minutes, not kept in
  memory for hours; ``chunk_retain_period`` 1m keeps a flushed chunk queryable from memory
  while the index catches up; ``max_chunk_age`` 2h bounds what a crash can lose;
* retention by the compactor (``retention_period`` = lokiRetention); the bucket's lifecycle
  rule expires objects a week later as a backstop.
S3 credentials reach Loki as environment variables from a Kubernetes Secret
(``-config.expand-env``): they are never in the Helm values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.cluster_base.releases import helm_release, secret
from components.config import NetworkConfig, ObservabilityConfig, retention_hours
from components.observability import sizing
from components.topology import (
    EVERY_NODE_TOLERATIONS,
    LOKI_PUSH_URL,
    LOKI_RELEASE,
    LOKI_URL,
    NODE_AGENT_CLASS,
    PERMANENT_NODES,
    PLATFORM_STANDARD_CLASS,
    TELEMETRY_S3_SECRET,
)


def loki_values(obs: ObservabilityConfig, network: NetworkConfig, bucket: str) -> dict:
    return {
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2026-01-01",
                        "store": "tsdb",
                        "object_store": "s3",
                        "schema": "v13",
                        "index": {"prefix": "index_", "period": "24h"},
                    }
                ]
            },
            "storage": {
                "type": "s3",
                "bucketNames": {"chunks": bucket, "ruler": bucket, "admin": bucket},
                "s3": {
                    "endpoint": f"s3.{network.region}.scw.cloud",
                    "region": network.region,
                    "accessKeyId": "${S3_ACCESS_KEY_ID}",
                    "secretAccessKey": "${S3_SECRET_ACCESS_KEY}",
                    "s3ForcePathStyle": False,
                    "insecure": False,
                },
            },
            "limits_config": {
                "retention_period": retention_hours(obs.loki_retention),
                "ingestion_rate_mb": 8,
                "ingestion_burst_size_mb": 16,
                "reject_old_samples": True,
                "reject_old_samples_max_age": "168h",
                # Loki's native OTLP endpoint takes the collector's logs.
                "allow_structured_metadata": True,
            },
            "compactor": {
                "retention_enabled": True,
                "delete_request_store": "s3",
                "working_directory": "/var/loki/compactor",
            },
            "ingester": {
                "chunk_idle_period": "30m",
                "chunk_retain_period": "1m",
                "max_chunk_age": "2h",
                "chunk_encoding": "snappy",
            },
        },
        "singleBinary": {
            "extraArgs": ["-config.expand-env=true"],
            "extraEnvFrom": [{"secretRef": {"name": TELEMETRY_S3_SECRET}}],
            "persistence": {
                "enabled": True,
                "size": f"{sizing.VOLUME_GIB['loki']}Gi",
                "storageClass": obs.storage_class,
            },
            "resources": sizing.resources("loki"),
            "nodeSelector": PERMANENT_NODES,
            "priorityClassName": PLATFORM_STANDARD_CLASS,
        },
        # Loki's own metrics (ingestion, discarded lines, S3 errors) to Prometheus.
        "monitoring": {"serviceMonitor": {"enabled": True}},
        # No Loki ruler rules are shipped as ConfigMaps: no sidecar watching ConfigMaps and
        # Secrets cluster-wide.
        "sidecar": {"rules": {"enabled": False}},
        "gateway": {"enabled": False},
        # The memcached caches default to gigabytes of memory: a single binary does without.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
    }


ALLOY_CONFIG = f"""// Pod logs of every node, with their Kubernetes labels, to Loki.
discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_node_name"]
    target_label  = "node"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.cluster.receiver]
}}

loki.write "cluster" {{
  endpoint {{
    url = "{LOKI_PUSH_URL}"
  }}
}}
"""


def alloy_values() -> dict:
    return {
        "alloy": {
            "configMap": {"create": True, "content": ALLOY_CONFIG},
            # The chart already sets HOSTNAME to the node's name, which the config reads.
            "resources": sizing.resources("alloy"),
            # Logs are read through the Kubernetes API (loki.source.kubernetes), not from the
            # node's files: Alloy needs no root and no host path.
            "mounts": {"extra": [{"name": "alloy-storage", "mountPath": "/tmp/alloy"}]},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 473,
                "runAsGroup": 473,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
        },
        "configReloader": {"resources": sizing.resources("alloy-config-reloader")},
        "controller": {
            "tolerations": EVERY_NODE_TOLERATIONS,
            "priorityClassName": NODE_AGENT_CLASS,
            # Alloy's storage path (/tmp/alloy) on a scratch volume: the root filesystem stays read-only.
            "volumes": {"extra": [{"name": "alloy-storage", "emptyDir": {}}]},
        },
        "rbac": {
            # Only what discovery.kubernetes (pods) and loki.source.kubernetes (pod logs) read:
            # no Secrets, no ConfigMaps.
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "pods/log", "namespaces"], "verbs": ["get", "list", "watch"]}
            ]
        },
        "serviceMonitor": {"enabled": True},
    }


@dataclass(frozen=True)
class LogsArgs:
    namespace: pulumi.Input[str]
    observability: ObservabilityConfig
    network: NetworkConfig
    bucket: pulumi.Input[str]
    s3_access_key: pulumi.Output[str]
    s3_secret_key: pulumi.Output[str]
    provider: k8s.Provider
    depends_on: list


class Logs(pulumi.ComponentResource):
    def __init__(self, name: str, args: LogsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:Logs", name, None, opts)
        self.s3_secret = secret(
            f"{name}-s3",
            TELEMETRY_S3_SECRET,
            args.namespace,
            {"S3_ACCESS_KEY_ID": args.s3_access_key, "S3_SECRET_ACCESS_KEY": args.s3_secret_key},
            parent=self,
            provider=args.provider,
        )
        self.loki = helm_release(
            f"{name}-loki",
            LOKI_RELEASE,
            pins.chart("loki"),
            args.namespace,
            pulumi.Output.from_input(args.bucket).apply(lambda b: loki_values(args.observability, args.network, b)),
            parent=self,
            provider=args.provider,
            depends_on=[self.s3_secret, *args.depends_on],
        )
        self.alloy = helm_release(
            f"{name}-alloy",
            "alloy",
            pins.chart("alloy"),
            args.namespace,
            alloy_values(),
            parent=self,
            provider=args.provider,
            depends_on=[self.loki],
        )
        self.loki_url = LOKI_URL
        self.loki_push_url = LOKI_PUSH_URL
        self.register_outputs({"loki_push_url": LOKI_PUSH_URL})
