"""Validation of a stack's raw configuration: every problem at once, before any resource.

Each problem names the key, the value (never a secret's) and what is allowed.  Keys come from
``schema.KEYS``; any other key in the project's namespace is a problem too, with the closest
known key as a suggestion (Pulumi itself never checks project keys).  Checks that need facts
outside config (prices, Kubernetes versions, capacity) run as ``checks`` after the model is
built (components/preflight.py), so their problems join the same report.
"""

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlparse

from components.config import host_keys, on_call_keys, scaleway_keys, schema
from components.config.model import (
    PROJECT,
    AlertingConfig,
    GrafanaConfig,
    InvalidConfig,
    NodeAllocatable,
    ObservabilityConfig,
    Secrets,
    StackConfig,
    is_size,
    size_in_bytes,
)
from components.config.reader import (
    BUCKET_SUFFIX_RE,
    SLACK_CHANNEL_RE,
    UUID_RE,
    Check,
    Reader,
    ipv4_network,
    is_dns_name,
    is_email,
    is_https_url,
    is_name,
    is_positive_duration,
    suggestion,
)


def _namespaces(r: Reader) -> tuple[str, ...]:
    names = r.structured("workloadNamespaces", list, "a JSON list of Kubernetes namespace names")
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    for i, ns in enumerate(names):
        if not isinstance(ns, str) or not dns_label.fullmatch(ns):
            r.fail(f"workloadNamespaces[{i}]", ns, "a DNS label: lowercase letters, digits and '-', at most 63")
        elif ns in ("monitoring", "default") or ns.startswith("kube-"):
            r.fail(f"workloadNamespaces[{i}]", ns, "a workload namespace, not monitoring, default or kube-*")
    if len(set(map(str, names))) != len(names):
        r.fail("workloadNamespaces", json.dumps(names), "each namespace once")
    return tuple(str(n) for n in names)


def _observability(r: Reader) -> ObservabilityConfig:
    duration = "a Prometheus duration above zero such as 10d, 12h or 30m (0h would mean keep forever to Loki)"
    size = "a size above zero such as 40GiB or 500MB (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
    # The volume becomes a Kubernetes quantity (40GiB -> 40Gi): binary units only.
    volume = "a volume size above zero in binary units, such as 50GiB (KiB, MiB, GiB, TiB: Kubernetes quantities)"
    obs = ObservabilityConfig(
        prometheus_retention=r.text("prometheusRetention", is_positive_duration, duration),
        prometheus_retention_size=r.text(
            "prometheusRetentionSize", lambda v: is_size(v) and size_in_bytes(v) > 0, size
        ),
        prometheus_volume_size=r.text(
            "prometheusVolumeSize",
            lambda v: bool(re.fullmatch(r"[1-9][0-9]*(KiB|MiB|GiB|TiB)", v)),
            volume,
        ),
        loki_retention=r.text("lokiRetention", is_positive_duration, duration),
        tempo_retention=r.text("tempoRetention", is_positive_duration, duration),
        storage_class=r.text(
            "storageClass",
            lambda v: bool(re.fullmatch(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", v)),
            "a Kubernetes StorageClass name such as sbs-default",
        ),
        external_probes=_probes(r),
    )
    sizes = (obs.prometheus_retention_size, obs.prometheus_volume_size)
    if all(map(is_size, sizes)) and size_in_bytes(sizes[0]) > 0.9 * size_in_bytes(sizes[1]):
        r.fail(
            "prometheusRetentionSize",
            obs.prometheus_retention_size,
            f"at most 90% of prometheusVolumeSize ({obs.prometheus_volume_size}), so the WAL and compaction have room",
        )
    return obs


def _probes(r: Reader) -> tuple[str, ...]:
    urls = r.structured("externalProbes", list, "a JSON list of https:// URLs the blackbox exporter probes")
    seen: dict[str, int] = {}
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not is_https_url(url):
            r.fail(f"externalProbes[{i}]", url, "an https:// URL without braces, quotes or spaces")
            continue
        # Each probe becomes a ServiceMonitor named after its host: two probes of one host collide.
        host = urlparse(url).hostname or url
        if host in seen:
            r.fail(
                f"externalProbes[{i}]", url, f"one probe per host: externalProbes[{seen[host]}] probes {host} already"
            )
        seen.setdefault(host, i)
    return tuple(str(u) for u in urls)


def _alerting(r: Reader, protected: bool) -> AlertingConfig:
    base = r.text("runbookBaseUrl", is_https_url, "an https:// URL (where runbooks/ is published)")
    return AlertingConfig(
        slack_channel=r.text(
            "slackChannel",
            lambda v: bool(SLACK_CHANNEL_RE.fullmatch(v)),
            "a Slack channel name such as #cvntrade-alerts",
        ),
        on_call=on_call_keys.on_call(r, protected),
        runbook_base_url=base.rstrip("/"),
    )


def _grafana(r: Reader) -> GrafanaConfig:
    return GrafanaConfig(
        domain=r.text(
            "grafanaDomain",
            is_dns_name,
            "a lowercase DNS name such as grafana.example.com (labels of at most 63, 253 in all)",
        ),
        acme_email=r.text(
            "acmeEmail",
            is_email,
            "the e-mail address Let's Encrypt registers Grafana's certificate to",
        ),
        postgres_host=r.text(
            "grafanaPostgresHost",
            lambda v: bool(re.fullmatch(r"^[A-Za-z0-9.-]+(:[0-9]+)?$", v)),
            "host[:port] of the PostgreSQL that holds finetune_results",
        ),
        postgres_user=r.text("grafanaPostgresUser", is_name, "a PostgreSQL role name"),
        postgres_database=r.text("grafanaPostgresDatabase", is_name, "a PostgreSQL database name"),
    )


def _allocatable(r: Reader) -> dict[str, NodeAllocatable]:
    table = r.structured(
        "nodeAllocatable", dict, "a JSON object: node type -> {cpu: cores, memoryGiB: GiB} allocatable to pods"
    )
    result = {}
    for name, entry in table.items():
        cpu = entry.get("cpu") if isinstance(entry, dict) else None
        mem = entry.get("memoryGiB") if isinstance(entry, dict) else None
        # NaN and infinity parse as numbers and would defeat the capacity check.
        if not isinstance(cpu, (int, float)) or not _finite_positive(cpu):
            r.fail(f"nodeAllocatable.{name}.cpu", cpu, "allocatable cores, a finite number above 0")
            continue
        if not isinstance(mem, (int, float)) or not _finite_positive(mem):
            r.fail(f"nodeAllocatable.{name}.memoryGiB", mem, "allocatable memory in GiB, a finite number above 0")
            continue
        unknown = sorted(set(entry) - {"cpu", "memoryGiB"})
        if unknown:
            r.fail(f"nodeAllocatable.{name}.{unknown[0]}", entry[unknown[0]], "not a key: cpu and memoryGiB only")
        result[name] = NodeAllocatable(float(cpu), float(mem))
    return result


def _expiry(r: Reader) -> str:
    value = r.text(
        "telemetryKeyExpiresOn",
        lambda v: bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v)),
        "a day YYYY-MM-DD within the next 400 days",
    )
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        r.fail("telemetryKeyExpiresOn", value, "a real calendar day YYYY-MM-DD")
        return ""
    today = dt.date.today()
    if not today < day <= today + dt.timedelta(days=400):
        r.fail(
            "telemetryKeyExpiresOn",
            value,
            f"a day after today ({today}) and within 400 days: an expired key stops logs and traces, "
            "a key that never expires is never rotated",
        )
    return value


def _api_allow_list(r: Reader, protected: bool) -> tuple[str, ...]:
    entries = r.structured("apiAllowList", list, "a JSON list of CIDRs allowed to reach the Kubernetes API")
    for i, entry in enumerate(entries):
        network = ipv4_network(r, f"apiAllowList[{i}]", entry)
        if network is not None and network.prefixlen == 0:
            r.fail(f"apiAllowList[{i}]", entry, "a bounded range, not the whole internet")
    if protected and not entries:
        r.fail(
            "apiAllowList",
            [],
            "at least one CIDR in a protected stack (the office, the VPN, the deploy runners): the Kubernetes API "
            "must not be open to the internet",
        )
    return tuple(str(e) for e in entries)


def _finite_positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _secrets(r: Reader, hosts_declared: bool) -> Secrets:
    return Secrets(
        slack_webhook_url=r.secret("slackWebhookUrl", is_https_url, "an https:// Slack incoming-webhook URL"),
        heartbeat_url=r.secret("heartbeatUrl", is_https_url, "an https:// dead-man's-switch URL"),
        grafana_postgres_password=r.secret("grafanaPostgresPassword"),
        host_ssh_private_key=r.secret(
            "hostSshPrivateKey",
            lambda v: v.startswith("-----BEGIN ") and "PRIVATE KEY-----" in v,
            "the PEM/OpenSSH private key of one of sshKeyIds (for phase two of the hosts)",
        )
        if hosts_declared
        else None,
    )


# What a change of each locked range would replace (terraform-provider-scaleway b2d45ed:
# ForceNew on vpc/private_network.go ipv4_subnet.subnet, k8s/cluster.go pod_cidr and service_cidr).
REPLACED_BY = {
    "privateSubnet": "the private network, so every private address, the cluster and the hosts' attachment",
    "podCidr": "the Kapsule cluster and every pool, pod and volume attachment on it",
    "serviceCidr": "the Kapsule cluster and every pool, pod and volume attachment on it",
}


def _deployed_network(r: Reader, cfg: StackConfig) -> None:
    """In a protected stack, the network ranges cannot drift from what was deployed."""
    locked = r.structured("deployedNetwork", dict, "an object {privateSubnet, podCidr, serviceCidr}")
    for key in sorted(set(locked) - set(REPLACED_BY)):
        r.fail(f"deployedNetwork.{key}", locked[key], f"one of {', '.join(REPLACED_BY)}")
    if not cfg.protect_stateful:
        return
    live = {
        "privateSubnet": cfg.network.private_subnet,
        "podCidr": cfg.network.pod_cidr,
        "serviceCidr": cfg.network.service_cidr,
    }
    for key, value in live.items():
        if key not in locked:
            r.fail(
                f"deployedNetwork.{key}",
                None,
                f"the deployed {key} ({value or '?'}), required when protectStateful is true: it locks the range",
            )
        elif value and locked[key] != value:
            r.fail(
                key,
                value,
                f"the deployed range {locked[key]} (deployedNetwork.{key}): changing it replaces "
                f"{REPLACED_BY[key]}; follow README 'Replacements' instead of editing the range",
            )


def _cross_checks(r: Reader, cfg: StackConfig) -> None:
    _deployed_network(r, cfg)
    storage_class = cfg.observability.storage_class
    if cfg.protect_stateful and storage_class and not storage_class.endswith("-retain"):
        r.fail(
            "storageClass",
            storage_class,
            "a retaining class (sbs-default-retain, sbs-15k-retain) in a protected "
            "stack: the default classes delete the disk with its claim",
        )
    if cfg.critical_path_hosts and not cfg.ssh_key_ids:
        r.fail("sshKeyIds", [], "at least one Scaleway IAM SSH key id when bare-metal hosts are declared")


# Protection follows the stack, not a value inside its file: a stack named prod is always
# protected, and `protectedStacks` (Pulumi.yaml) may name more.
ALWAYS_PROTECTED = frozenset({"prod"})


def protected_by_name(r: Reader, stack: str) -> bool:
    listed = r.structured("protectedStacks", list, "a JSON list of stack names whose stateful resources are protected")
    return stack in ALWAYS_PROTECTED or stack in {str(s) for s in listed}


def _stack_identity(r: Reader, stack: str, environment: str, protected: bool) -> None:
    if stack in ("dev", "staging", "prod") and environment and environment != stack:
        r.fail(
            "environment",
            environment,
            f"{stack!r}, the stack's own name: names, buckets and protection "
            f"follow the stack, and another environment's would collide",
        )
    if protected and str(r.raw.get("protectStateful", "true")).lower() == "false":
        r.fail(
            "protectStateful",
            False,
            f"true (or unset) in stack {stack!r}, which is protected by name: stateful resources must stay protected",
        )


def _unknown_keys(r: Reader) -> None:
    for key in sorted(set(r.raw) - set(schema.BY_NAME)):
        close = suggestion(key, schema.BY_NAME)
        hint = f"did you mean {close}?" if close else "see the configuration table in the README"
        r.fail(key, r.raw.get(key), f"not a key of this project: {hint}")


def load(
    raw: Mapping[str, str | None], secret_keys: Iterable[str], stack: str, checks: Iterable[Check] = ()
) -> StackConfig:
    """Validate the raw (string) config of one stack; raise InvalidConfig with every problem.

    ``raw`` holds every key the stack sets in the project's namespace, defaults merged."""
    # Pulumi applies the defaults Pulumi.yaml declares; the object-valued keys it cannot declare
    # take theirs from the schema here.
    undeclared = {k.name: json.dumps(k.default) for k in schema.KEYS if k.kind == "object" and not k.required}
    r = Reader({**undeclared, **raw}, frozenset(secret_keys))
    _unknown_keys(r)
    environment = r.text("environment", lambda v: v in ("dev", "staging", "prod"), "one of dev, staging, prod")
    protected = protected_by_name(r, stack)
    _stack_identity(r, stack, environment, protected)
    permanent, compute, low_latency = scaleway_keys.pools(r)
    ssh_keys = r.structured("sshKeyIds", list, "a JSON list of Scaleway IAM SSH key ids")
    for i, key_id in enumerate(ssh_keys):
        if not isinstance(key_id, str) or not UUID_RE.fullmatch(key_id):
            # A pasted public key ("ssh-ed25519 AAAA...") is the classic mistake here.
            r.fail(
                f"sshKeyIds[{i}]",
                key_id,
                "the id (a lowercase UUID) of an SSH key registered in Scaleway IAM "
                "(`scw iam ssh-key list`), not the public key itself",
            )
    protect = r.boolean("protectStateful") or protected
    hosts = host_keys.hosts(r, protect)
    cfg = StackConfig(
        stack=stack,
        environment=environment,
        protect_stateful=protect,
        organization_id=r.text(
            "organizationId",
            lambda v: bool(UUID_RE.fullmatch(v)),
            "the Scaleway Organization id, a lowercase UUID (console: Organization settings)",
        ),
        bucket_suffix=r.text(
            "bucketSuffix",
            lambda v: bool(BUCKET_SUFFIX_RE.fullmatch(v)),
            "8 to 16 lowercase letters and digits, generated once: `openssl rand -hex 6`",
        ),
        telemetry_key_expires_on=_expiry(r),
        api_allow_list=_api_allow_list(r, protected),
        network=scaleway_keys.network(r),
        cluster=scaleway_keys.cluster(r),
        permanent_pool=permanent,
        compute_pool=compute,
        low_latency_pool=low_latency,
        critical_path_hosts=hosts,
        host_tuning=host_keys.host_tuning(r),
        ssh_key_ids=tuple(str(k) for k in ssh_keys),
        workload_namespaces=_namespaces(r),
        observability=_observability(r),
        alerting=_alerting(r, protected),
        grafana=_grafana(r),
        node_allocatable=_allocatable(r),
        secrets=_secrets(r, bool(hosts)),
    )
    _cross_checks(r, cfg)
    for check in checks:
        r.problems.extend(check(cfg))
    if r.problems:
        raise InvalidConfig(stack, r.problems)
    return cfg


def from_pulumi(checks: Iterable[Check] = ()) -> StackConfig:
    """Read the running stack's config through the Pulumi SDK: every key of the project's
    namespace, so that a misspelt key is reported instead of silently ignored."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    names = {k[len(prefix) :] for k in runtime_config.get_config_env() if k.startswith(prefix)}
    names |= set(schema.BY_NAME)
    raw = {key: runtime_config.get_config(prefix + key) for key in sorted(names)}
    raw = {k: v for k, v in raw.items() if v is not None}
    secret_keys = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    return load(raw, secret_keys, pulumi.get_stack(), checks)
