"""Every configuration key of the project: one table.

``Pulumi.yaml`` declares the keys Pulumi's project config types can describe (string,
integer, boolean, array) with exactly these types, defaults and descriptions; the validator
reads exactly these keys and reports any other key of the project's namespace as a problem;
the README's configuration table is ``markdown_table()`` (a test compares them).
A test checks Pulumi.yaml and the README against this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["string", "integer", "boolean", "array", "object", "secret"]
REQUIRED = object()  # marker: no default, the stack file must set it


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind
    default: Any
    description: str

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def declared_in_pulumi_yaml(self) -> bool:
        """Objects and secrets cannot be typed by Pulumi's project config; they are documented in a comment."""
        return self.kind not in ("object", "secret")


KEYS: tuple[Key, ...] = (
    # ---- environment -----------------------------------------------------------------------
    Key("environment", "string", REQUIRED, "Environment name (dev, staging or prod); names resources and tags."),
    Key(
        "protectStateful",
        "boolean",
        False,
        "Protect stateful resources (buckets, bare-metal hosts, persistent volumes) from replacement and deletion, "
        "and set Scaleway's own `protected` flag on bare-metal hosts. Must be true in prod.",
    ),
    Key(
        "protectedStacks",
        "array",
        ["prod"],
        "Stacks whose stateful and address-bearing resources are protected whatever their file says; prod always is.",
    ),
    Key(
        "organizationId",
        "string",
        REQUIRED,
        "Scaleway Organization id (UUID) that owns the IAM application and policy of the telemetry key; the provider "
        "requires it for IAM resources.",
    ),
    Key(
        "telemetryKeyExpiresOn",
        "string",
        REQUIRED,
        "Day (YYYY-MM-DD) the telemetry writer's API key expires: within 400 days. Moving it rotates the key "
        "(README 'Rotating the telemetry key').",
    ),
    Key(
        "bucketSuffix",
        "string",
        REQUIRED,
        "Random suffix of the object-storage bucket names (bucket names are global across Scaleway): 8 to 16 "
        "lowercase letters and digits, generated once per stack (`openssl rand -hex 6`) and never changed.",
    ),
    # ---- network ---------------------------------------------------------------------------
    Key("region", "string", "fr-par", "Scaleway region (fr-par, nl-ams or pl-waw)."),
    Key(
        "zone",
        "string",
        "fr-par-2",
        "Scaleway zone inside the region, for zonal resources (gateway, bare-metal hosts).",
    ),
    Key(
        "privateSubnet",
        "string",
        "172.16.16.0/22",
        "IPv4 subnet of the regional private network (RFC 1918, /20 to /28).",
    ),
    Key(
        "podCidr",
        "string",
        "100.64.0.0/15",
        "Kapsule pod CIDR; must not overlap the private subnet or the service CIDR. Fixed once the cluster exists.",
    ),
    Key(
        "serviceCidr",
        "string",
        "10.32.0.0/20",
        "Kapsule service CIDR; must not overlap the private subnet or the pod CIDR. Fixed once the cluster exists.",
    ),
    Key(
        "deployedNetwork",
        "object",
        {},
        "The ranges as deployed, {privateSubnet, podCidr, serviceCidr}: the lock that keeps them. Required when "
        "protectStateful is true; a live value that differs is refused, because changing any of them replaces the "
        "private network or the cluster (README 'Replacements').",
    ),
    Key(
        "sshAllowList",
        "array",
        [],
        "CIDRs allowed to reach SSH (22/tcp) on the bare-metal hosts' public interface; everything else inbound is "
        "dropped.",
    ),
    # ---- cluster ---------------------------------------------------------------------------
    Key(
        "kubernetesVersion",
        "string",
        "1.35",
        "Kapsule Kubernetes version: a minor (1.35) with autoUpgrade true, or a patch (1.35.2) with autoUpgrade false; "
        "must be listed in components/scaleway/kubernetes_versions.yaml and not past its end of life.",
    ),
    Key("autoUpgrade", "boolean", True, "Let Kapsule apply patch upgrades in the maintenance window."),
    Key(
        "apiAllowList",
        "array",
        [],
        "CIDRs allowed to reach the Kubernetes API, beside Scaleway's own ranges (the nodes, and deploy runners "
        "hosted on Scaleway). Required in protected stacks: an empty list leaves the API open to the internet.",
    ),
    Key("maintenanceDay", "string", "sunday", "Day of the weekly maintenance window (monday..sunday or any)."),
    Key(
        "maintenanceStartHour",
        "integer",
        3,
        "Start hour (UTC, 0-23) of the maintenance window; markets are quietest at the weekend.",
    ),
    Key(
        "autoscalerScaleDownDelayAfterAdd",
        "string",
        "5m",
        "Cluster-autoscaler wait after a scale-up before it considers scaling down.",
    ),
    Key(
        "autoscalerScaleDownUnneededTime",
        "string",
        "5m",
        "How long a compute node must be unneeded before the autoscaler removes it.",
    ),
    Key(
        "autoscalerExpander",
        "string",
        "least_waste",
        "Cluster-autoscaler expander (random, most_pods, least_waste, priority, price).",
    ),
    Key(
        "permanentPoolNodeType",
        "string",
        "PRO2-S",
        "Node type of the permanent pool (monitoring and always-on services).",
    ),
    Key("permanentPoolSize", "integer", 1, "Fixed size of the permanent pool."),
    Key(
        "computePoolNodeType",
        "string",
        "POP2-HC-8C-16G",
        "Node type of the autoscaled compute pool (fine-tuning and batch runs).",
    ),
    Key(
        "computePoolMinSize", "integer", 0, "Minimum size of the compute pool; 0 lets it sleep when no batch pod waits."
    ),
    Key("computePoolMaxSize", "integer", 1, "Maximum size of the compute pool."),
    Key(
        "lowLatencyPoolEnabled",
        "boolean",
        False,
        "Declare the low-latency pool (static CPU manager, single-NUMA-node topology manager).",
    ),
    Key("lowLatencyPoolNodeType", "string", "POP2-HC-16C-32G", "Node type of the low-latency pool, when enabled."),
    Key("lowLatencyPoolSize", "integer", 1, "Fixed size of the low-latency pool, when enabled."),
    # ---- critical path ---------------------------------------------------------------------
    Key(
        "criticalPathHosts",
        "object",
        [],
        "List of {role: market-data|strategy|order-management, offer and fallbackOffer: Elastic Metal offers, "
        "osName, osVersion, installedOs: the lock (required when protected), allowReinstall, housekeepingCores "
        "(default 2 physical cores), isolatedCores: optional CPU list checked against the offer, hotThreads: one "
        "isolated core each, hugepages1G}; [] for none. The CPU layout is derived from the offer's hardware.",
    ),
    Key(
        "hostTuning",
        "object",
        {},
        "Low-latency choices of the critical-path hosts: smt, cStates, turbo, transparentHugepages, watchdogs, "
        "nicRxUsecs, unattendedUpgrades, timeServers, clockOffsetBoundMicroseconds, sshUser (defaults and "
        "reasons: README 'Critical-path hosts').",
    ),
    Key("sshKeyIds", "array", [], "Scaleway IAM SSH key ids installed on the bare-metal hosts."),
    Key(
        "workloadNamespaces",
        "array",
        ["hft-services", "ml", "airflow"],
        "Namespaces of the support workloads (risk, reporting, fine-tuning, Airflow, MLflow).",
    ),
    # ---- observability ---------------------------------------------------------------------
    Key("prometheusRetention", "string", "2d", "Prometheus TSDB retention time (--storage.tsdb.retention.time)."),
    Key(
        "prometheusRetentionSize",
        "string",
        "8GiB",
        "Prometheus TSDB retention size (--storage.tsdb.retention.size); at most 90% of the volume.",
    ),
    Key("prometheusVolumeSize", "string", "10GiB", "Size of Prometheus's persistent volume on Scaleway block storage."),
    Key("lokiRetention", "string", "3d", "Loki log retention (compactor) and the log bucket's lifecycle expiry."),
    Key(
        "tempoRetention",
        "string",
        "2d",
        "Tempo trace retention (compactor block retention) and the trace bucket's lifecycle expiry.",
    ),
    Key(
        "storageClass",
        "string",
        "sbs-default-retain",
        "StorageClass of every persistent volume (Scaleway Block Storage CSI). Kapsule's `-retain` classes keep "
        "the disk when its claim is deleted; required in protected stacks.",
    ),
    Key(
        "externalProbes",
        "array",
        ["https://api.binance.com/api/v3/ping", "https://cloud.langfuse.com", "https://s3.fr-par.scw.cloud"],
        "External APIs the blackbox exporter probes (HTTP and DNS) for the DNS Resolution panel.",
    ),
    Key(
        "nodeAllocatable",
        "object",
        REQUIRED,
        "{node type: {cpu: cores, memoryGiB: GiB}} allocatable to pods, for the permanent pool's capacity check "
        "(requests must stay under 80%).",
    ),
    # ---- alerting --------------------------------------------------------------------------
    Key("slackChannel", "string", "#cvntrade-alerts", "Slack channel of warning and critical alerts."),
    Key(
        "onCall",
        "object",
        None,
        "Who PagerDuty pages (required in protected stacks; without it criticals reach Slack only): "
        "{timeZone (IANA), handover (RFC 3339: a shift starts then), rotationDays (shift length, 1-365), "
        "rotation: [{name, email, phone: '+33 612345678'}, ...] (at least two; primary is the person on shift, "
        "secondary the next one), incidentLead: {name, email, phone}}. SMS at once, a call after 5 minutes "
        "(README 'Alert routing and escalation').",
    ),
    Key(
        "runbookBaseUrl",
        "string",
        REQUIRED,
        "https:// base URL where runbooks/ is published; runbook_url = base + /NAME.md.",
    ),
    # ---- Grafana ---------------------------------------------------------------------------
    Key("grafanaDomain", "string", REQUIRED, "DNS name Grafana is served on (HTTPS only)."),
    Key(
        "acmeEmail",
        "string",
        REQUIRED,
        "E-mail address Let's Encrypt registers Grafana's TLS certificate to (cert-manager ACME).",
    ),
    Key("grafanaPostgresHost", "string", REQUIRED, "host[:port] of the PostgreSQL that holds finetune_results."),
    Key(
        "grafanaPostgresUser",
        "string",
        "grafana_reader",
        "Read-only PostgreSQL role Grafana uses for the drift panels.",
    ),
    Key("grafanaPostgresDatabase", "string", "mlops", "PostgreSQL database that holds finetune_results."),
    # ---- secrets (`pulumi config set --secret`) --------------------------------------------
    Key("slackWebhookUrl", "secret", REQUIRED, "Slack incoming-webhook URL (https)."),
    Key(
        "heartbeatUrl",
        "secret",
        REQUIRED,
        "https:// URL of the external dead man's switch the Watchdog pings every minute "
        "(README 'Alert routing and escalation').",
    ),
    Key("grafanaPostgresPassword", "secret", REQUIRED, "Password of grafanaPostgresUser."),
    Key(
        "hostSshPrivateKey",
        "secret",
        None,
        "Private key of one of sshKeyIds: phase two of the critical-path hosts connects with it. "
        "Required when criticalPathHosts is not empty.",
    ),
)
BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}
SECRET_KEYS: tuple[str, ...] = tuple(k.name for k in KEYS if k.kind == "secret")


def pulumi_declaration(key: Key) -> dict[str, Any]:
    """The key's entry under ``config:`` in Pulumi.yaml."""
    entry: dict[str, Any] = {"type": key.kind}
    if key.kind == "array":
        entry["items"] = {"type": "string"}
    if not key.required:
        entry["default"] = key.default
    entry["description"] = key.description
    return entry


def markdown_table() -> str:
    """The README's configuration table."""

    def shown(key: Key) -> str:
        if key.kind == "secret":
            return "secret, required" if key.required else "secret, when needed"
        if key.required:
            return "required"
        return f"`{key.default!r}`".replace("'", '"') if not isinstance(key.default, str) else f"`{key.default}`"

    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{k.name}` | {k.kind} | {shown(k)} | {k.description} |" for k in KEYS]
    return "\n".join(rows)
