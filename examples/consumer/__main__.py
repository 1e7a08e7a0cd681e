"""A team's stack on the trading platform: its namespace and the telemetry settings its
services read, all from the platform stack's outputs (components/outputs.py is the contract)."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
platform = pulumi.StackReference(config.require("platformStack"))

# The kubeconfig is a secret output: it stays a secret here.
cluster = k8s.Provider("platform-cluster", kubeconfig=platform.require_output("kubeconfig"))
namespace = k8s.core.v1.Namespace(
    "risk-reporting",
    metadata={"name": "risk-reporting", "labels": {"app.kubernetes.io/part-of": "risk-reporting"}},
    opts=pulumi.ResourceOptions(provider=cluster),
)
telemetry = k8s.core.v1.ConfigMap(
    "telemetry",
    metadata={"name": "telemetry", "namespace": namespace.metadata["name"]},
    data={
        "OTEL_EXPORTER_OTLP_ENDPOINT": platform.require_output("otlp_grpc_endpoint"),
        "PROMETHEUS_URL": platform.require_output("prometheus_url"),
        "ENVIRONMENT": platform.require_output("environment"),
    },
    opts=pulumi.ResourceOptions(provider=cluster),
)
pulumi.export("namespace", namespace.metadata["name"])
