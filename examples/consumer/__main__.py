"""A team's stack on the trading platform: its namespace and the telemetry settings its
services read, all from the platform stack's outputs (components/outputs.py is the contract)."""

import json

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
platform = pulumi.StackReference(config.require("platformStack"))


def kubeconfig(server: str, ca: str) -> str:
    """A kubeconfig for the platform's cluster that authenticates as *this team*: kubectl asks
    the Scaleway CLI for a short-lived token from the team's own IAM credentials (SCW_ACCESS_KEY
    and SCW_SECRET_KEY of its deploy key), so Kubernetes RBAC sees the team, not an admin."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "platform", "cluster": {"server": server, "certificate-authority-data": ca}}],
            "users": [
                {
                    "name": "team",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1",
                            "command": "scw",
                            "args": ["k8s", "exec-credential"],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
            "contexts": [{"name": "platform", "context": {"cluster": "platform", "user": "team"}}],
            "current-context": "platform",
        }
    )


# The platform exports no credential: the API's address and CA only.
cluster = k8s.Provider(
    "platform-cluster",
    kubeconfig=pulumi.Output.all(
        platform.require_output("cluster_api_url"),
        platform.require_output("cluster_ca_certificate"),
    ).apply(lambda v: kubeconfig(v[0], v[1])),
)
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
