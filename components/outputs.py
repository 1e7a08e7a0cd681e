"""The stack outputs other teams may rely on: one list, exported exactly, documented from here.

``python -m components.outputs`` prints the README's output table from this list; a test
checks that the README holds that table and that every stack exports exactly these names
with exactly this secretness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class StackOutput:
    name: str
    type: str
    secret: bool
    meaning: str


OUTPUTS: tuple[StackOutput, ...] = (
    StackOutput("environment", "string", False, "Environment of the stack (dev, staging, prod)."),
    StackOutput("cluster_id", "string", False, "Kapsule cluster id (region/uuid)."),
    StackOutput("cluster_api_url", "string", False, "Kubernetes API server URL."),
    StackOutput(
        "cluster_ca_certificate",
        "string",
        False,
        "CA certificate of the Kubernetes API (base64 PEM). With cluster_api_url and your own IAM credentials: "
        "README 'Access to the cluster'. No admin credential is exported.",
    ),
    StackOutput("private_network_id", "string", False, "Regional private network id; attach your resources here."),
    StackOutput(
        "pool_ids",
        "map<string,string>",
        False,
        "Kapsule pool ids by role: permanent, compute (and low-latency when enabled).",
    ),
    StackOutput(
        "critical_path_private_ips",
        "map<string,string>",
        False,
        "Private IPv4 of each bare-metal host by role (empty in dev).",
    ),
    StackOutput("bucket_names", "map<string,string>", False, "Object-storage bucket names by purpose (loki, tempo)."),
    StackOutput("s3_endpoint", "string", False, "S3 endpoint of the buckets' region."),
    StackOutput(
        "estimated_cost_eur_per_hour",
        "object",
        False,
        "Hourly cost estimate: idle, busy and their parts, with the date the prices were read.",
    ),
    StackOutput(
        "alertmanager_config_secret",
        "string",
        False,
        "namespace/name of the Kubernetes Secret holding alertmanager.yaml.",
    ),
    StackOutput("runbook_base_url", "string", False, "Base URL of the runbooks alerts link to."),
    StackOutput("grafana_url", "string", False, "Grafana's HTTPS URL."),
    StackOutput(
        "prometheus_url", "string", False, "Prometheus, in-cluster URL (remote-write receiver on /api/v1/write)."
    ),
    StackOutput("alertmanager_url", "string", False, "Alertmanager, in-cluster URL."),
    StackOutput(
        "otlp_grpc_endpoint", "string", False, "OTLP gRPC endpoint of the OpenTelemetry Collector, in-cluster."
    ),
    StackOutput(
        "otlp_http_endpoint", "string", False, "OTLP HTTP endpoint of the OpenTelemetry Collector, in-cluster."
    ),
    StackOutput(
        "otlp_grpc_private_endpoint",
        "string",
        False,
        "OTLP gRPC endpoint on the private network (bare-metal hosts, VMs).",
    ),
    StackOutput("otlp_http_private_endpoint", "string", False, "OTLP HTTP endpoint on the private network."),
    StackOutput("loki_push_url", "string", False, "Loki push URL, in-cluster."),
    StackOutput("tempo_query_url", "string", False, "Tempo query URL, in-cluster."),
    StackOutput(
        "permanent_pool_requests",
        "object",
        False,
        "CPU and memory requested on the permanent pool vs allocatable, and the 80% limit.",
    ),
)


def export_all(values: Mapping[str, Any]) -> None:
    """Export exactly the contract's outputs; secret ones wrapped as Pulumi secrets."""
    expected = {o.name for o in OUTPUTS}
    missing, extra = expected - set(values), set(values) - expected
    if missing or extra:
        raise ValueError(f"stack outputs differ from the contract: missing {sorted(missing)}, extra {sorted(extra)}")
    for spec in OUTPUTS:
        value = values[spec.name]
        pulumi.export(spec.name, pulumi.Output.secret(value) if spec.secret else value)


def markdown_table() -> str:
    rows = ["| output | type | secret | meaning |", "|---|---|---|---|"]
    rows += [f"| `{o.name}` | {o.type} | {'yes' if o.secret else 'no'} | {o.meaning} |" for o in OUTPUTS]
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
