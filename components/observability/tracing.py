"""Traces and the telemetry gateway: Tempo (single binary, S3 on the Scaleway bucket) and the
OpenTelemetry Collector as a gateway.

The collector takes OTLP (gRPC 4317, HTTP 4318) from pods by service name
(``otel-collector.monitoring.svc``) and from the bare-metal hosts over the private network,
through a private Scaleway load balancer that this component creates on the address the
network component reserved (so the hosts' cloud-init knows it before the cluster exists).
Pipelines: memory limiter -> Kubernetes attributes -> batch, then traces to Tempo, metrics to
Prometheus (remote write), logs to Loki (its native OTLP endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumiverse_scaleway import loadbalancers

from components import pins
from components.cluster_base.releases import helm_release
from components.config import NetworkConfig, ObservabilityConfig, retention_hours
from components.observability import sizing
from components.topology import (
    LOKI_URL,
    OTEL_COLLECTOR_SERVICE,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    PERMANENT_NODES,
    PLATFORM_CRITICAL_CLASS,
    PLATFORM_STANDARD_CLASS,
    PROMETHEUS_URL,
    TELEMETRY_S3_SECRET,
    TEMPO_OTLP_GRPC,
    TEMPO_RELEASE,
    TEMPO_URL,
)

COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"


def tempo_values(obs: ObservabilityConfig, network: NetworkConfig, bucket: str) -> dict:
    return {
        "tempo": {
            "retention": retention_hours(obs.tempo_retention),
            "storage": {
                "trace": {
                    "backend": "s3",
                    "s3": {
                        "bucket": bucket,
                        "endpoint": f"s3.{network.region}.scw.cloud",
                        "region": network.region,
                        "access_key": "${S3_ACCESS_KEY_ID}",
                        "secret_key": "${S3_SECRET_ACCESS_KEY}",
                    },
                    "wal": {"path": "/var/tempo/wal"},
                }
            },
            "extraArgs": {"config.expand-env": "true"},
            "extraEnvFrom": [{"secretRef": {"name": TELEMETRY_S3_SECRET}}],
            "reportingEnabled": False,
            "resources": sizing.resources("tempo"),
            "securityContext": {
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
            # Service graph and span metrics from the traces, written to Prometheus: what
            # Grafana's service map (the Tempo data source's serviceMap) reads.
            "metricsGenerator": {"enabled": True, "remoteWriteUrl": f"{PROMETHEUS_URL}/api/v1/write"},
            "overrides": {"defaults": {"metrics_generator": {"processors": ["service-graphs", "span-metrics"]}}},
        },
        "persistence": {"enabled": True, "storageClassName": obs.storage_class},  # the chart's 10Gi
        "nodeSelector": PERMANENT_NODES,
        "priorityClassName": PLATFORM_STANDARD_CLASS,
        # Tempo's own metrics (received, discarded and refused spans, S3 errors) to Prometheus.
        "serviceMonitor": {"enabled": True},
    }


def collector_values(load_balancer_id: str) -> dict:
    # memory_limiter first (it must refuse data before anything else spends memory on it),
    # batch last.  The chart's kubernetesAttributes preset would put its processor first, so
    # the processor and its read-only RBAC are declared here instead.
    pipeline = {"receivers": ["otlp"], "processors": ["memory_limiter", "k8sattributes", "batch"]}
    return {
        "mode": "deployment",
        "fullnameOverride": OTEL_COLLECTOR_SERVICE,
        # contrib: the core image has neither k8sattributes nor prometheusremotewrite; the tag is
        # the chart's appVersion (pins.yaml pins the chart).
        "image": {"repository": COLLECTOR_IMAGE},
        "replicaCount": sizing.PERMANENT_POOL["otel-collector"].replicas,
        "priorityClassName": PLATFORM_CRITICAL_CLASS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,  # the contrib image's user
            "runAsGroup": 10001,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "clusterRole": {
            "create": True,
            "rules": [
                {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"]},
                {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
            ],
        },
        # OTLP only: no Jaeger or Zipkin ports on the load balancer; the metrics port for the
        # ServiceMonitor (the collector's own otelcol_* metrics).
        "ports": {
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
            "metrics": {"enabled": True},
        },
        "config": {
            "processors": {
                "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
                "k8sattributes": {
                    "passthrough": False,
                    "extract": {
                        "metadata": [
                            "k8s.namespace.name",
                            "k8s.pod.name",
                            "k8s.deployment.name",
                            "k8s.node.name",
                            "k8s.container.name",
                        ]
                    },
                    "pod_association": [{"sources": [{"from": "connection"}]}],
                },
                # A bounded batch: a burst is split, never sent as one oversized request that
                # Prometheus, Tempo or Loki would refuse.
                "batch": {"send_batch_size": 8192, "send_batch_max_size": 10000, "timeout": "2s"},
            },
            "exporters": {
                "otlp/tempo": {"endpoint": TEMPO_OTLP_GRPC, "tls": {"insecure": True}},
                "prometheusremotewrite": {
                    "endpoint": f"{PROMETHEUS_URL}/api/v1/write",
                    "resource_to_telemetry_conversion": {"enabled": True},
                },
                "otlphttp/loki": {"endpoint": f"{LOKI_URL}/otlp"},
            },
            "service": {
                "pipelines": {
                    "traces": {**pipeline, "exporters": ["otlp/tempo"]},
                    "metrics": {**pipeline, "exporters": ["prometheusremotewrite"]},
                    "logs": {**pipeline, "exporters": ["otlphttp/loki"]},
                }
            },
        },
        "service": {
            "type": "LoadBalancer",
            # The load balancer this component created on the reserved private address;
            # private: it has no public IP.
            # externally-managed: Pulumi owns that load balancer, so Scaleway's cloud controller
            # binds to it but never deletes or reconfigures it with the Service.
            "annotations": {
                "service.beta.kubernetes.io/scw-loadbalancer-id": load_balancer_id,
                "service.beta.kubernetes.io/scw-loadbalancer-externally-managed": "true",
                "service.beta.kubernetes.io/scw-loadbalancer-private": "true",
            },
        },
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": sizing.resources("otel-collector"),
        "nodeSelector": PERMANENT_NODES,
        "serviceMonitor": {"enabled": True},
    }


@dataclass(frozen=True)
class TracingArgs:
    prefix: str
    namespace: pulumi.Input[str]
    observability: ObservabilityConfig
    network: NetworkConfig
    bucket: pulumi.Input[str]
    private_network_id: pulumi.Input[str]
    gateway_ip_id: pulumi.Input[str]
    gateway_address: pulumi.Input[str]
    provider: k8s.Provider
    depends_on: list
    tags: list[str]


class Tracing(pulumi.ComponentResource):
    def __init__(self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:Tracing", name, None, opts)
        self.tempo = helm_release(
            f"{name}-tempo",
            TEMPO_RELEASE,
            pins.chart("tempo"),
            args.namespace,
            pulumi.Output.from_input(args.bucket).apply(lambda b: tempo_values(args.observability, args.network, b)),
            parent=self,
            provider=args.provider,
            depends_on=args.depends_on,
        )
        self.gateway = loadbalancers.LoadBalancer(
            f"{name}-gateway",
            name=f"{args.prefix}-telemetry-gateway",
            type="LB-S",
            zone=args.network.zone,
            assign_flexible_ip=False,
            private_networks=[
                loadbalancers.LoadBalancerPrivateNetworkArgs(
                    private_network_id=args.private_network_id, ipam_ids=args.gateway_ip_id
                )
            ],
            tags=args.tags + ["purpose=telemetry-gateway"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.collector = helm_release(
            f"{name}-otel-collector",
            OTEL_COLLECTOR_SERVICE,
            pins.chart("opentelemetry-collector"),
            args.namespace,
            self.gateway.id.apply(collector_values),
            parent=self,
            provider=args.provider,
            depends_on=[self.tempo],
        )
        self.tempo_url = TEMPO_URL
        self.otlp_grpc_private = pulumi.Output.concat("http://", args.gateway_address, f":{OTLP_GRPC_PORT}")
        self.otlp_http_private = pulumi.Output.concat("http://", args.gateway_address, f":{OTLP_HTTP_PORT}")
        self.register_outputs({"tempo_url": TEMPO_URL, "otlp_grpc_private": self.otlp_grpc_private})
