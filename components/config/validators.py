"""Validation of a stack's raw configuration: every problem at once, before any resource.

Each problem names the key, the value (never a secret's) and what is allowed.  Keys come from
``schema.KEYS``; any other key in the project's namespace is a problem too, with the closest
known key as a suggestion (Pulumi itself never checks project keys).  Checks that need facts
outside config (prices, Kubernetes versions, capacity) run as ``checks`` after the model is
built (components/preflight.py), so their problems join the same report.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from components.config import schema
from components.config.model import (
    PROJECT,
    AlertingConfig,
    AutoscalerConfig,
    ClusterConfig,
    CriticalPathHost,
    GrafanaConfig,
    InvalidConfig,
    NetworkConfig,
    NodeAllocatable,
    ObservabilityConfig,
    PoolConfig,
    Problem,
    SecretValue,
    Secrets,
    StackConfig,
    format_cpu_list,
    is_size,
    parse_cpu_list,
    shown,
    size_in_bytes,
)

# Scaleway regions and the zones in them (https://www.scaleway.com/en/docs/account/reference-content/products-availability/).
ZONES_BY_REGION: dict[str, tuple[str, ...]] = {
    "fr-par": ("fr-par-1", "fr-par-2", "fr-par-3"),
    "nl-ams": ("nl-ams-1", "nl-ams-2", "nl-ams-3"),
    "pl-waw": ("pl-waw-1", "pl-waw-2", "pl-waw-3"),
}
WEEKDAYS = ("any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROLES = ("market-data", "strategy", "order-management")
AUTOSCALER_EXPANDERS = ("random", "most_pods", "least_waste", "priority", "price")

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_K8S_VERSION = re.compile(r"^1\.[0-9]{2}(\.[0-9]+)?$")
_SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_BUCKET_SUFFIX = re.compile(r"^[a-z0-9]{8,16}$")

T = TypeVar("T")
Check = Callable[[StackConfig], Iterable[Problem]]


class _Reader:
    """Reads raw string config, recording problems instead of raising."""

    def __init__(self, raw: Mapping[str, str | None], secret_keys: frozenset[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[Problem] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        """Record a problem; a secret's value is never shown, encrypted or not."""
        base = key.split("[")[0].split(".")[0]
        hidden = base in self.secret_keys or base in schema.SECRET_KEYS
        self.problems.append(Problem(key, "[secret]" if hidden else shown(value), allowed))

    def text(self, key: str, check: Callable[[str], bool] = bool, allowed: str = "a non-empty string") -> str:
        value = self.raw.get(key)
        if value is None or not check(value):
            self.fail(key, value, allowed)
            return ""
        return value

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self.raw.get(key)
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            self.fail(key, value, f"a whole number from {lo} to {hi}")
            return lo
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw.get(key)
        if str(value).lower() not in ("true", "false"):
            self.fail(key, value, "true or false")
            return False
        return str(value).lower() == "true"

    def structured(self, key: str, kind: type[T], allowed: str) -> T:
        value = self.raw.get(key)
        try:
            parsed = json.loads(value) if value is not None else None
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, kind):
            self.fail(key, value, allowed)
            return kind()
        return parsed

    def secret(self, key: str, check: Callable[[str], bool] = bool, allowed: str = "a non-empty secret") -> SecretValue:
        value = self.raw.get(key)
        if value is None:
            self.fail(key, None, f"required secret: set it with `pulumi config set --secret {key} ...`")
        elif key not in self.secret_keys:
            self.fail(key, value, f"must be stored encrypted: `pulumi config set --secret {key} ...`")
        elif not check(value):
            self.fail(key, value, allowed)
        return SecretValue(value or "")


def _is_https_url(value: str) -> bool:
    return bool(re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$", value))


def _is_name(value: str) -> bool:
    return bool(_NAME.match(value))


def _cidr(reader: _Reader, key: str, value: Any) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError:
        reader.fail(key, value, "an IPv4 network in CIDR form with no host bits set, e.g. 172.16.0.0/22")
        return None


def _network(r: _Reader) -> NetworkConfig:
    region = r.text("region", lambda v: v in ZONES_BY_REGION, f"one of {', '.join(ZONES_BY_REGION)}")
    zone = r.text("zone", lambda v: v in ZONES_BY_REGION.get(region, ()),
                  f"a zone of region {region or '?'}: {', '.join(ZONES_BY_REGION.get(region, ())) or 'fix region first'}")
    nets = {}
    for key in ("privateSubnet", "podCidr", "serviceCidr"):
        nets[key] = _cidr(r, key, r.raw.get(key))
    private = nets["privateSubnet"]
    if private is not None and not private.is_private:
        r.fail("privateSubnet", str(private), "a private (RFC 1918) range")
    if private is not None and not 20 <= private.prefixlen <= 28:
        r.fail("privateSubnet", str(private), "a prefix length from /20 to /28 (Scaleway private networks)")
    keys = list(nets)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if nets[a] is not None and nets[b] is not None and nets[a].overlaps(nets[b]):
                r.fail(a, str(nets[a]), f"must not overlap {b} ({nets[b]})")
    allow = r.structured("sshAllowList", list, "a JSON list of CIDRs allowed to reach SSH on the bare-metal hosts")
    for i, cidr in enumerate(allow):
        network = _cidr(r, f"sshAllowList[{i}]", cidr)
        if network is not None and network.prefixlen == 0:
            r.fail(f"sshAllowList[{i}]", cidr, "a bounded range, not the whole internet")
    return NetworkConfig(region, zone, str(private or ""), str(nets["podCidr"] or ""),
                         str(nets["serviceCidr"] or ""), tuple(str(c) for c in allow))


def _cluster(r: _Reader) -> ClusterConfig:
    duration = "a duration such as 30s, 10m or 1h (number and unit: ms, s, m, h, d, w, y)"
    return ClusterConfig(
        kubernetes_version=r.text("kubernetesVersion", lambda v: bool(_K8S_VERSION.match(v)),
                                  "a Kapsule Kubernetes version: a minor such as 1.35 or a patch such as 1.35.2"),
        auto_upgrade=r.boolean("autoUpgrade"),
        maintenance_day=r.text("maintenanceDay", lambda v: v in WEEKDAYS, f"one of {', '.join(WEEKDAYS)}"),
        maintenance_start_hour=r.integer("maintenanceStartHour", 0, 23),
        autoscaler=AutoscalerConfig(
            scale_down_delay_after_add=r.text("autoscalerScaleDownDelayAfterAdd",
                                              lambda v: bool(_DURATION.match(v)), duration),
            scale_down_unneeded_time=r.text("autoscalerScaleDownUnneededTime",
                                            lambda v: bool(_DURATION.match(v)), duration),
            expander=r.text("autoscalerExpander", lambda v: v in AUTOSCALER_EXPANDERS,
                            f"one of {', '.join(AUTOSCALER_EXPANDERS)}"),
        ),
    )


def _node_type(r: _Reader, key: str) -> str:
    return r.text(key, _is_name, "a Scaleway node type name such as PRO2-S (letters, digits, '-', '_', '.')")


def _pools(r: _Reader) -> tuple[PoolConfig, PoolConfig, PoolConfig | None]:
    size = r.integer("permanentPoolSize", 1, 100)
    permanent = PoolConfig(_node_type(r, "permanentPoolNodeType"), size, size, size, autoscaling=False)
    c_min = r.integer("computePoolMinSize", 0, 100)
    c_max = r.integer("computePoolMaxSize", 1, 100)
    if c_max < c_min:
        r.fail("computePoolMaxSize", str(c_max), f"at least computePoolMinSize ({c_min})")
    # Created at its minimum: with min 0 the pool starts empty (see components/cluster.py on
    # terraform-provider-scaleway#4196 for why size must be 0 too).
    compute = PoolConfig(_node_type(r, "computePoolNodeType"), c_min, c_min, c_max, autoscaling=True)
    low_latency = None
    if r.boolean("lowLatencyPoolEnabled"):
        size = r.integer("lowLatencyPoolSize", 1, 100)
        low_latency = PoolConfig(_node_type(r, "lowLatencyPoolNodeType"), size, size, size, False)
    return permanent, compute, low_latency


def _hosts(r: _Reader) -> tuple[CriticalPathHost, ...]:
    items = r.structured("criticalPathHosts", list,
                         "a JSON list of hosts: {role, offer, osName, osVersion, cores, isolatedCores, hugepages1G}")
    hosts: list[CriticalPathHost] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"criticalPathHosts[{i}]"
        if not isinstance(item, dict):
            r.fail(at, item, "an object {role, offer, osName, osVersion, cores, isolatedCores, hugepages1G}")
            continue
        role = item.get("role")
        if role not in ROLES:
            r.fail(f"{at}.role", role, f"one of {', '.join(ROLES)}")
        elif role in seen:
            r.fail(f"{at}.role", role, "each role once: one host per role")
        seen.add(str(role))
        for name in ("offer", "osName", "osVersion"):
            if not isinstance(item.get(name), str) or not item.get(name).strip():
                r.fail(f"{at}.{name}", item.get(name), "a non-empty name as Scaleway lists it")
        cores = item.get("cores")
        if not isinstance(cores, int) or isinstance(cores, bool) or not 2 <= cores <= 512:
            r.fail(f"{at}.cores", cores, "the host's logical CPU count, a whole number from 2 to 512")
            cores = 0
        iso_text = item.get("isolatedCores")
        isolated: tuple[int, ...] = ()
        try:
            isolated = parse_cpu_list(str(iso_text)) if isinstance(iso_text, str) else parse_cpu_list("")
        except ValueError:
            r.fail(f"{at}.isolatedCores", iso_text, "a CPU list such as 2-7,10 (ascending ranges, no spaces)")
        if isolated and cores:
            outside = [c for c in isolated if c >= cores]
            if outside:
                r.fail(f"{at}.isolatedCores", iso_text,
                       f"cores within 0-{cores - 1} (the host has {cores}); {format_cpu_list(tuple(outside))} is outside")
            elif 0 in isolated:
                r.fail(f"{at}.isolatedCores", iso_text, "core 0 must stay a housekeeping core")
            elif len(isolated) >= cores - 1:
                r.fail(f"{at}.isolatedCores", iso_text,
                       f"at least 2 of the {cores} cores left for housekeeping (kernel, IRQs, node-exporter, agents)")
        pages = item.get("hugepages1G")
        if not isinstance(pages, int) or isinstance(pages, bool) or not 0 <= pages <= 1024:
            r.fail(f"{at}.hugepages1G", pages, "a whole number of 1 GiB huge pages from 0 to 1024")
            pages = 0
        hosts.append(CriticalPathHost(str(role), str(item.get("offer")), str(item.get("osName")),
                                      str(item.get("osVersion")), cores, isolated, pages))
    return tuple(hosts)


def _namespaces(r: _Reader) -> tuple[str, ...]:
    names = r.structured("workloadNamespaces", list, "a JSON list of Kubernetes namespace names")
    dns_label = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    for i, ns in enumerate(names):
        if not isinstance(ns, str) or not dns_label.match(ns):
            r.fail(f"workloadNamespaces[{i}]", ns, "a DNS label: lowercase letters, digits and '-', at most 63")
        elif ns in ("monitoring", "default") or ns.startswith("kube-"):
            r.fail(f"workloadNamespaces[{i}]", ns, "a workload namespace, not monitoring, default or kube-*")
    if len(set(map(str, names))) != len(names):
        r.fail("workloadNamespaces", json.dumps(names), "each namespace once")
    return tuple(str(n) for n in names)


def _observability(r: _Reader) -> ObservabilityConfig:
    duration = "a Prometheus duration such as 10d, 12h or 30m"
    size = "a size such as 40GiB or 500MB (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
    obs = ObservabilityConfig(
        prometheus_retention=r.text("prometheusRetention", lambda v: bool(_DURATION.match(v)), duration),
        prometheus_retention_size=r.text("prometheusRetentionSize", is_size, size),
        prometheus_volume_size=r.text("prometheusVolumeSize", is_size, size),
        loki_retention=r.text("lokiRetention", lambda v: bool(_DURATION.match(v)), duration),
        tempo_retention=r.text("tempoRetention", lambda v: bool(_DURATION.match(v)), duration),
        storage_class=r.text("storageClass", lambda v: bool(re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", v)),
                             "a Kubernetes StorageClass name such as sbs-default"),
        external_probes=_probes(r),
    )
    sizes = (obs.prometheus_retention_size, obs.prometheus_volume_size)
    if all(map(is_size, sizes)) and size_in_bytes(sizes[0]) > 0.9 * size_in_bytes(sizes[1]):
            r.fail("prometheusRetentionSize", obs.prometheus_retention_size,
                   f"at most 90% of prometheusVolumeSize ({obs.prometheus_volume_size}), "
                   "so the WAL and compaction have room")
    return obs


def _probes(r: _Reader) -> tuple[str, ...]:
    urls = r.structured("externalProbes", list, "a JSON list of https:// URLs the blackbox exporter probes")
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not _is_https_url(url):
            r.fail(f"externalProbes[{i}]", url, "an https:// URL")
    return tuple(str(u) for u in urls)


def _alerting(r: _Reader) -> AlertingConfig:
    e164 = "an E.164 phone number: '+', country code, number, no spaces (e.g. +33612345678)"
    primary = r.text("onCallPrimaryPhone", lambda v: bool(_E164.match(v)), e164)
    secondary = r.text("onCallSecondaryPhone", lambda v: bool(_E164.match(v)), e164)
    if primary and primary == secondary:
        r.fail("onCallSecondaryPhone", secondary, "a different person from onCallPrimaryPhone (escalation goes there)")
    base = r.text("runbookBaseUrl", _is_https_url, "an https:// URL (where runbooks/ is published)")
    return AlertingConfig(
        slack_channel=r.text("slackChannel", lambda v: bool(_SLACK_CHANNEL.match(v)),
                             "a Slack channel name such as #cvntrade-alerts"),
        on_call_primary=primary, on_call_secondary=secondary,
        runbook_base_url=base.rstrip("/"),
    )


def _grafana(r: _Reader) -> GrafanaConfig:
    host = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
    return GrafanaConfig(
        domain=r.text("grafanaDomain", lambda v: bool(host.match(v)), "a DNS name such as grafana.example.com"),
        acme_email=r.text("acmeEmail", lambda v: bool(re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", v)),
                          "the e-mail address Let's Encrypt registers Grafana's certificate to"),
        postgres_host=r.text("grafanaPostgresHost", lambda v: bool(re.match(r"^[A-Za-z0-9.-]+(:[0-9]+)?$", v)),
                             "host[:port] of the PostgreSQL that holds finetune_results"),
        postgres_user=r.text("grafanaPostgresUser", _is_name, "a PostgreSQL role name"),
        postgres_database=r.text("grafanaPostgresDatabase", _is_name, "a PostgreSQL database name"),
    )


def _allocatable(r: _Reader) -> dict[str, NodeAllocatable]:
    table = r.structured("nodeAllocatable", dict,
                         "a JSON object: node type -> {cpu: cores, memoryGiB: GiB} allocatable to pods")
    result = {}
    for name, entry in table.items():
        cpu = entry.get("cpu") if isinstance(entry, dict) else None
        mem = entry.get("memoryGiB") if isinstance(entry, dict) else None
        if not isinstance(cpu, (int, float)) or isinstance(cpu, bool) or cpu <= 0:
            r.fail(f"nodeAllocatable.{name}.cpu", cpu, "allocatable cores, a number above 0")
            continue
        if not isinstance(mem, (int, float)) or isinstance(mem, bool) or mem <= 0:
            r.fail(f"nodeAllocatable.{name}.memoryGiB", mem, "allocatable memory in GiB, a number above 0")
            continue
        result[name] = NodeAllocatable(float(cpu), float(mem))
    return result


def _secrets(r: _Reader) -> Secrets:
    return Secrets(
        slack_webhook_url=r.secret("slackWebhookUrl", _is_https_url, "an https:// Slack incoming-webhook URL"),
        pagerduty_routing_key=r.secret("pagerdutyRoutingKey", lambda v: bool(re.match(r"^[A-Za-z0-9]{32}$", v)),
                                       "a 32-character PagerDuty Events API v2 integration key"),
        sms_bridge_url=r.secret("smsBridgeUrl", _is_https_url, "an https:// URL of the SMS bridge's webhook"),
        heartbeat_url=r.secret("heartbeatUrl", _is_https_url, "an https:// dead-man's-switch URL"),
        grafana_postgres_password=r.secret("grafanaPostgresPassword"),
    )


def _cross_checks(r: _Reader, cfg: StackConfig) -> None:
    if cfg.critical_path_hosts and not cfg.ssh_key_ids:
        r.fail("sshKeyIds", [], "at least one Scaleway IAM SSH key id when bare-metal hosts are declared")
    if cfg.environment == "prod" and not cfg.protect_stateful and "protectStateful" in r.raw:
        r.fail("protectStateful", False, "true in prod: stateful resources must be protected")


def _unknown_keys(r: _Reader) -> None:
    for key in sorted(set(r.raw) - set(schema.BY_NAME)):
        close = difflib.get_close_matches(key, schema.BY_NAME, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see the configuration table in the README"
        r.fail(key, "(set)", f"not a key of this project: {hint}")


def load(raw: Mapping[str, str | None], secret_keys: Iterable[str], stack: str,
         checks: Iterable[Check] = ()) -> StackConfig:
    """Validate the raw (string) config of one stack; raise InvalidConfig with every problem.

    ``raw`` holds every key the stack sets in the project's namespace, defaults merged."""
    # Pulumi applies the defaults Pulumi.yaml declares; the object-valued keys it cannot declare
    # take theirs from the schema here.
    undeclared = {k.name: json.dumps(k.default) for k in schema.KEYS
                  if not k.declared_in_pulumi_yaml and not k.required}
    r = _Reader({**undeclared, **raw}, frozenset(secret_keys))
    _unknown_keys(r)
    environment = r.text("environment", lambda v: v in ("dev", "staging", "prod"), "one of dev, staging, prod")
    permanent, compute, low_latency = _pools(r)
    ssh_keys = r.structured("sshKeyIds", list, "a JSON list of Scaleway IAM SSH key ids")
    cfg = StackConfig(
        stack=stack,
        environment=environment,
        protect_stateful=r.boolean("protectStateful"),
        organization_id=r.text("organizationId", lambda v: bool(_UUID.match(v)),
                               "the Scaleway Organization id, a lowercase UUID (console: Organization settings)"),
        bucket_suffix=r.text("bucketSuffix", lambda v: bool(_BUCKET_SUFFIX.match(v)),
                             "8 to 16 lowercase letters and digits, generated once: `openssl rand -hex 6`"),
        network=_network(r),
        cluster=_cluster(r),
        permanent_pool=permanent,
        compute_pool=compute,
        low_latency_pool=low_latency,
        critical_path_hosts=_hosts(r),
        ssh_key_ids=tuple(str(k) for k in ssh_keys),
        workload_namespaces=_namespaces(r),
        observability=_observability(r),
        alerting=_alerting(r),
        grafana=_grafana(r),
        node_allocatable=_allocatable(r),
        secrets=_secrets(r),
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
    names = {k[len(prefix):] for k in runtime_config.get_config_env() if k.startswith(prefix)}
    names |= {k for k in schema.BY_NAME}
    raw = {key: runtime_config.get_config(prefix + key) for key in sorted(names)}
    raw = {k: v for k, v in raw.items() if v is not None}
    secret_keys = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    return load(raw, secret_keys, pulumi.get_stack(), checks)
