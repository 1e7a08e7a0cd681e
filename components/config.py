"""The stack's configuration: read once, validated as a whole, frozen.

Every key the program reads is listed in ``KEYS`` below; defaults live in
``Pulumi.yaml`` (the Pulumi CLI applies them, and the offline render merges
them the same way), so this module never invents a value.  ``load`` collects
every problem before it gives up, so that a user fixing a stack file sees all
of them at once, each naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from components import sizing

PROJECT = "trading-platform"

# Scaleway regions and the zones in them (https://www.scaleway.com/en/docs/account/reference-content/products-availability/).
ZONES_BY_REGION: dict[str, tuple[str, ...]] = {
    "fr-par": ("fr-par-1", "fr-par-2", "fr-par-3"),
    "nl-ams": ("nl-ams-1", "nl-ams-2", "nl-ams-3"),
    "pl-waw": ("pl-waw-1", "pl-waw-2", "pl-waw-3"),
}
WEEKDAYS = ("any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROLES = ("market-data", "strategy", "order-management")
AUTOSCALER_EXPANDERS = ("random", "most_pods", "least_waste", "priority", "price")
# Secrets that must be present for the stack to deploy.  They are read as
# plaintext only to validate them, and leave this module wrapped as Pulumi secrets.
REQUIRED_SECRETS = (
    "slackWebhookUrl",
    "pagerdutyRoutingKey",
    "smsBridgeUrl",
    "heartbeatUrl",
    "grafanaPostgresPassword",
)

_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_SIZE = re.compile(r"^([0-9]+)(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
_SIZE_FACTORS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4,
                 "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CPU_LIST = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_K8S_VERSION = re.compile(r"^1\.[0-9]{2}(\.[0-9]+)?$")
_SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")


class InvalidConfig(Exception):
    """Raised with every problem found in a stack's configuration."""

    def __init__(self, stack: str, problems: list["Problem"]):
        self.stack = stack
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"stack '{self.stack}': {len(self.problems)} configuration problem(s):"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Fix them with `pulumi config set [--secret] <key> <value>` or in the stack file.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Problem:
    key: str
    value: str
    allowed: str

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key} = {self.value}: {self.allowed}"


class SecretValue:
    """A secret read from config: never printed, handed to Pulumi as a secret."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__

    def output(self):
        import pulumi

        return pulumi.Output.secret(self._value)


@dataclass(frozen=True)
class NetworkConfig:
    region: str
    zone: str
    private_subnet: str
    pod_cidr: str
    service_cidr: str
    ssh_allow_list: tuple[str, ...]


@dataclass(frozen=True)
class AutoscalerConfig:
    scale_down_delay_after_add: str
    scale_down_unneeded_time: str
    expander: str


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    auto_upgrade: bool
    maintenance_day: str
    maintenance_start_hour: int
    autoscaler: AutoscalerConfig


@dataclass(frozen=True)
class PoolConfig:
    node_type: str
    size: int
    min_size: int
    max_size: int
    autoscaling: bool


@dataclass(frozen=True)
class CriticalPathHost:
    role: str
    offer: str
    os_name: str
    os_version: str
    cores: int
    isolated_cores: tuple[int, ...]
    hugepages_1g: int

    @property
    def isolated_list(self) -> str:
        return format_cpu_list(self.isolated_cores)

    @property
    def housekeeping_cores(self) -> tuple[int, ...]:
        return tuple(c for c in range(self.cores) if c not in self.isolated_cores)

    @property
    def housekeeping_list(self) -> str:
        return format_cpu_list(self.housekeeping_cores)


@dataclass(frozen=True)
class ObservabilityConfig:
    prometheus_retention: str
    prometheus_retention_size: str
    prometheus_volume_size: str
    loki_retention: str
    tempo_retention: str
    storage_class: str
    external_probes: tuple[str, ...]


@dataclass(frozen=True)
class NodeAllocatable:
    cpu: float
    memory_gib: float


@dataclass(frozen=True)
class AlertingConfig:
    slack_channel: str
    on_call_primary: str
    on_call_secondary: str
    runbook_base_url: str


@dataclass(frozen=True)
class GrafanaConfig:
    domain: str
    acme_email: str
    postgres_host: str
    postgres_user: str
    postgres_database: str


@dataclass(frozen=True)
class PriceTable:
    read_on: str
    node_types: Mapping[str, float]
    offers: Mapping[str, float]
    public_gateway: float


@dataclass(frozen=True)
class Secrets:
    slack_webhook_url: SecretValue
    pagerduty_routing_key: SecretValue
    sms_bridge_url: SecretValue
    heartbeat_url: SecretValue
    grafana_postgres_password: SecretValue


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: str
    protect_stateful: bool
    network: NetworkConfig
    cluster: ClusterConfig
    permanent_pool: PoolConfig
    compute_pool: PoolConfig
    low_latency_pool: Optional[PoolConfig]
    critical_path_hosts: tuple[CriticalPathHost, ...]
    ssh_key_ids: tuple[str, ...]
    workload_namespaces: tuple[str, ...]
    observability: ObservabilityConfig
    alerting: AlertingConfig
    grafana: GrafanaConfig
    prices: PriceTable
    node_allocatable: Mapping[str, NodeAllocatable]
    secrets: Secrets = field(repr=False)


# ---------------------------------------------------------------- parsing

def parse_cpu_list(text: str) -> tuple[int, ...]:
    """``"2-7,10"`` -> ``(2, 3, 4, 5, 6, 7, 10)``; raises ValueError."""
    if not _CPU_LIST.match(text):
        raise ValueError(text)
    cores: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if last < first:
            raise ValueError(text)
        cores.update(range(first, last + 1))
    return tuple(sorted(cores))


def format_cpu_list(cores: tuple[int, ...]) -> str:
    """The inverse of ``parse_cpu_list``, with ranges collapsed."""
    runs: list[str] = []
    for core in sorted(cores):
        if runs and "-" in runs[-1] and int(runs[-1].split("-")[1]) == core - 1:
            runs[-1] = f"{runs[-1].split('-')[0]}-{core}"
        elif runs and "-" not in runs[-1] and int(runs[-1]) == core - 1:
            runs[-1] = f"{runs[-1]}-{core}"
        else:
            runs.append(str(core))
    return ",".join(runs)


def size_in_bytes(text: str) -> int:
    m = _SIZE.match(text)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * _SIZE_FACTORS[m.group(2)]


class _Reader:
    """Reads raw string config, recording problems instead of raising."""

    def __init__(self, raw: Mapping[str, Optional[str]], secret_keys: frozenset[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[Problem] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        shown = "[secret]" if key.split("[")[0].split(".")[0] in self.secret_keys else (
            "(missing)" if value is None else json.dumps(value) if not isinstance(value, str) else repr(value))
        self.problems.append(Problem(key, shown, allowed))

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

    def structured(self, key: str, kind: type, allowed: str):
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
            self.fail(key, value if not check(value) else "[plaintext]",
                      f"must be stored encrypted: `pulumi config set --secret {key} ...`")
        elif not check(value):
            self.fail(key, value, allowed)
        return SecretValue(value or "")


def _is_https_url(value: str) -> bool:
    return bool(re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$", value))


def _is_name(value: str) -> bool:
    return bool(_NAME.match(value))


def _cidr(reader: _Reader, key: str, value: Any) -> Optional[ipaddress.IPv4Network]:
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
                                  "a Kapsule Kubernetes version such as 1.33 or 1.33.4"),
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


def _pools(r: _Reader) -> tuple[PoolConfig, PoolConfig, Optional[PoolConfig]]:
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
        prometheus_retention_size=r.text("prometheusRetentionSize", lambda v: bool(_SIZE.match(v)), size),
        prometheus_volume_size=r.text("prometheusVolumeSize", lambda v: bool(_SIZE.match(v)), size),
        loki_retention=r.text("lokiRetention", lambda v: bool(_DURATION.match(v)), duration),
        tempo_retention=r.text("tempoRetention", lambda v: bool(_DURATION.match(v)), duration),
        storage_class=r.text("storageClass", lambda v: bool(re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", v)),
                             "a Kubernetes StorageClass name such as sbs-default"),
        external_probes=_probes(r),
    )
    if _SIZE.match(obs.prometheus_retention_size) and _SIZE.match(obs.prometheus_volume_size):
        if size_in_bytes(obs.prometheus_retention_size) > 0.9 * size_in_bytes(obs.prometheus_volume_size):
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


def _prices(r: _Reader) -> PriceTable:
    table = r.structured("prices", dict, "a JSON object {readOn, nodeTypes: {type: EUR/h}, offers: {offer: EUR/h}, "
                                         "publicGateway: EUR/h}")
    read_on = table.get("readOn")
    if not isinstance(read_on, str) or not _DATE.match(read_on):
        r.fail("prices.readOn", read_on, "the date the prices were read, YYYY-MM-DD")
    groups: dict[str, dict[str, float]] = {}
    for group in ("nodeTypes", "offers"):
        value = table.get(group)
        if not isinstance(value, dict):
            r.fail(f"prices.{group}", value, "an object of name -> EUR per hour")
            value = {}
        for name, price in value.items():
            if not isinstance(price, (int, float)) or isinstance(price, bool) or price < 0:
                r.fail(f"prices.{group}.{name}", price, "a price in EUR per hour, 0 or more")
        groups[group] = {k: float(v) for k, v in value.items() if isinstance(v, (int, float))}
    gateway = table.get("publicGateway")
    if not isinstance(gateway, (int, float)) or isinstance(gateway, bool) or gateway < 0:
        r.fail("prices.publicGateway", gateway, "a price in EUR per hour, 0 or more")
        gateway = 0.0
    return PriceTable(str(read_on), groups["nodeTypes"], groups["offers"], float(gateway))


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
    prices = cfg.prices
    for key, pool in (("permanentPoolNodeType", cfg.permanent_pool), ("computePoolNodeType", cfg.compute_pool),
                      ("lowLatencyPoolNodeType", cfg.low_latency_pool)):
        if pool is not None and pool.node_type and pool.node_type not in prices.node_types:
            r.fail(key, pool.node_type, f"a node type with a price in prices.nodeTypes ({', '.join(prices.node_types)})")
    for i, host in enumerate(cfg.critical_path_hosts):
        if host.offer and host.offer not in prices.offers:
            r.fail(f"criticalPathHosts[{i}].offer", host.offer,
                   f"an offer with a price in prices.offers ({', '.join(prices.offers)})")
    _capacity(r, cfg)
    if cfg.critical_path_hosts and not cfg.ssh_key_ids:
        r.fail("sshKeyIds", "[]", "at least one Scaleway IAM SSH key id when bare-metal hosts are declared")


def _capacity(r: _Reader, cfg: StackConfig) -> None:
    """Everything pinned to the permanent pool must fit in 80% of its allocatable resources."""
    pool = cfg.permanent_pool
    if not pool.node_type:
        return
    node = cfg.node_allocatable.get(pool.node_type)
    if node is None:
        r.fail("permanentPoolNodeType", pool.node_type,
               f"a node type listed in nodeAllocatable ({', '.join(cfg.node_allocatable) or 'empty'})")
        return
    usage = sizing.permanent_pool_usage(pool.size, node.cpu, node.memory_gib)
    limit = f"{sizing.CAPACITY_LIMIT:.0%}"
    if usage.cpu_ratio > sizing.CAPACITY_LIMIT:
        r.fail("permanentPoolNodeType", pool.node_type,
               f"a node type (or a larger permanentPoolSize) whose allocatable CPU covers the requests: "
               f"{usage.cpu_requested:g} of {usage.cpu_allocatable:g} cores requested = {usage.cpu_ratio:.0%}, over {limit}; "
               f"biggest: {usage.biggest(0)}")
    if usage.memory_ratio > sizing.CAPACITY_LIMIT:
        r.fail("permanentPoolNodeType", pool.node_type,
               f"a node type (or a larger permanentPoolSize) whose allocatable memory covers the requests: "
               f"{usage.memory_requested_mib:g} of {usage.memory_allocatable_mib:g} MiB requested = "
               f"{usage.memory_ratio:.0%}, over {limit}; biggest: {usage.biggest(1)}")


def load(raw: Mapping[str, Optional[str]], secret_keys: frozenset[str] | set[str], stack: str) -> StackConfig:
    """Validate the raw (string) config of one stack; raise InvalidConfig with every problem."""
    r = _Reader(raw, frozenset(secret_keys))
    environment = r.text("environment", lambda v: v in ("dev", "staging", "prod"), "one of dev, staging, prod")
    network = _network(r)
    cluster = _cluster(r)
    permanent, compute, low_latency = _pools(r)
    hosts = _hosts(r)
    ssh_keys = r.structured("sshKeyIds", list, "a JSON list of Scaleway IAM SSH key ids")
    cfg = StackConfig(
        stack=stack,
        environment=environment,
        protect_stateful=r.boolean("protectStateful"),
        network=network,
        cluster=cluster,
        permanent_pool=permanent,
        compute_pool=compute,
        low_latency_pool=low_latency,
        critical_path_hosts=hosts,
        ssh_key_ids=tuple(str(k) for k in ssh_keys),
        workload_namespaces=_namespaces(r),
        observability=_observability(r),
        alerting=_alerting(r),
        grafana=_grafana(r),
        prices=_prices(r),
        node_allocatable=_allocatable(r),
        secrets=_secrets(r),
    )
    _cross_checks(r, cfg)
    if environment == "prod" and not cfg.protect_stateful and "protectStateful" in raw:
        r.fail("protectStateful", "false", "true in prod: stateful resources must be protected")
    if r.problems:
        raise InvalidConfig(stack, r.problems)
    return cfg


def from_pulumi() -> StackConfig:
    """Read the running stack's config through the Pulumi SDK."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Optional[str]] = {}
    for key in KEYS:
        raw[key] = runtime_config.get_config(f"{PROJECT}:{key}")
    secret_keys = {k for k in KEYS if runtime_config.is_config_secret(f"{PROJECT}:{k}")}
    return load(raw, secret_keys, pulumi.get_stack())


KEYS = (
    "environment", "protectStateful",
    "region", "zone", "privateSubnet", "podCidr", "serviceCidr", "sshAllowList",
    "kubernetesVersion", "autoUpgrade", "maintenanceDay", "maintenanceStartHour",
    "autoscalerScaleDownDelayAfterAdd", "autoscalerScaleDownUnneededTime", "autoscalerExpander",
    "permanentPoolNodeType", "permanentPoolSize",
    "computePoolNodeType", "computePoolMinSize", "computePoolMaxSize",
    "lowLatencyPoolEnabled", "lowLatencyPoolNodeType", "lowLatencyPoolSize",
    "criticalPathHosts", "sshKeyIds", "workloadNamespaces",
    "prometheusRetention", "prometheusRetentionSize", "prometheusVolumeSize", "lokiRetention", "tempoRetention",
    "slackChannel", "onCallPrimaryPhone", "onCallSecondaryPhone", "runbookBaseUrl",
    "grafanaDomain", "grafanaPostgresHost", "grafanaPostgresUser", "grafanaPostgresDatabase",
    "prices", "nodeAllocatable", "storageClass", "acmeEmail", "externalProbes",
) + REQUIRED_SECRETS
