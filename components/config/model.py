"""The validated configuration of one stack: frozen dataclasses, and the problems found."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

PROJECT = "trading-platform"

_SIZE = re.compile(r"^([0-9]+)(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
_SIZE_FACTORS = {
    "B": 1,
    "KB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
_CPU_LIST = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")


@dataclass(frozen=True)
class Problem:
    key: str
    value: str
    allowed: str

    def __str__(self) -> str:
        return f"{PROJECT}:{self.key} = {self.value}: {self.allowed}"


class InvalidConfig(Exception):
    """Raised with every problem found in a stack's configuration."""

    def __init__(self, stack: str, problems: list[Problem]):
        self.stack = stack
        self.problems = problems
        super().__init__(self.report())

    def report(self) -> str:
        lines = [f"stack '{self.stack}': {len(self.problems)} configuration problem(s):"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Fix them with `pulumi config set [--secret] <key> <value>` or in the stack file.")
        return "\n".join(lines)


class SecretValue:
    """A secret read from config: never printed, handed to Pulumi as a secret."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__

    def output(self) -> pulumi.Output[str]:
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
    """One bare-metal host of the trading path.  Its CPU layout is derived from its offer's
    hardware at preview time (components/scaleway/hardware.py), not declared here."""

    role: str
    offer: str
    fallback_offer: str | None  # used for a new host while ``offer`` is out of stock
    os_name: str
    os_version: str
    installed_os: str | None  # the lock: what is installed; a different osName/osVersion reinstalls
    allow_reinstall: bool
    housekeeping_cores: int  # physical cores left to the kernel, IRQs and agents
    isolated_cores: tuple[int, ...] | None  # None: every other physical core
    hot_threads: tuple[str, ...]  # each pinned to its own isolated core, in order
    hugepages_1g: int

    @property
    def os(self) -> str:
        return f"{self.os_name} {self.os_version}"


@dataclass(frozen=True)
class TimeServer:
    host: str
    nts: bool  # authenticated (Network Time Security); chrony refuses an unauthenticated answer


@dataclass(frozen=True)
class HostTuning:
    """Stack-wide low-latency choices for the critical-path hosts (README "Critical-path hosts")."""

    smt: bool
    c_states: str  # "C1" | "poll" | "default"
    turbo: bool
    transparent_hugepages: str  # "never" | "madvise"
    watchdogs: bool
    nic_rx_usecs: int
    unattended_upgrades: bool
    time_servers: tuple[TimeServer, ...]
    clock_offset_bound_us: int
    ssh_user: str


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
class Phone:
    """A phone number as PagerDuty stores it: country calling code and the national number
    without its trunk prefix."""

    country_code: int
    number: str


@dataclass(frozen=True)
class OnCallPerson:
    name: str
    email: str
    phone: Phone


@dataclass(frozen=True)
class OnCallConfig:
    """Who is paged, in PagerDuty: the rotation (primary on-call, and the next person in the
    rotation as secondary) and the incident lead at the last level."""

    time_zone: str
    handover: str  # RFC 3339: the first shift starts here; every shift starts at its time of day
    rotation_days: int
    rotation: tuple[OnCallPerson, ...]
    incident_lead: OnCallPerson


@dataclass(frozen=True)
class AlertingConfig:
    slack_channel: str
    on_call: OnCallConfig | None  # None: nobody is paged (Slack only), for stacks that are not protected
    runbook_base_url: str


@dataclass(frozen=True)
class GrafanaConfig:
    domain: str
    acme_email: str
    postgres_host: str
    postgres_user: str
    postgres_database: str


@dataclass(frozen=True)
class Secrets:
    slack_webhook_url: SecretValue
    heartbeat_url: SecretValue
    grafana_postgres_password: SecretValue
    host_ssh_private_key: SecretValue | None = None  # phase two of the hosts connects with it


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: str
    protect_stateful: bool
    organization_id: str
    bucket_suffix: str
    telemetry_key_expires_on: str
    api_allow_list: tuple[str, ...]
    network: NetworkConfig
    cluster: ClusterConfig
    permanent_pool: PoolConfig
    compute_pool: PoolConfig
    low_latency_pool: PoolConfig | None
    critical_path_hosts: tuple[CriticalPathHost, ...]
    host_tuning: HostTuning
    ssh_key_ids: tuple[str, ...]
    workload_namespaces: tuple[str, ...]
    observability: ObservabilityConfig
    alerting: AlertingConfig
    grafana: GrafanaConfig
    node_allocatable: Mapping[str, NodeAllocatable]
    secrets: Secrets = field(repr=False)

    @property
    def prefix(self) -> str:
        """The name prefix of every Scaleway resource of the stack."""
        return f"trading-{self.environment}"

    @property
    def tags(self) -> list[str]:
        return [f"env={self.environment}", "app=trading-platform", "managed-by=pulumi"]


# ---------------------------------------------------------------- value parsing


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """``"2-7,10"`` -> ``(2, 3, 4, 5, 6, 7, 10)``; raises ValueError."""
    if not _CPU_LIST.fullmatch(text):
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
    """The inverse of ``parse_cpu_list``, with runs of consecutive cores collapsed."""
    runs: list[list[int]] = []
    for core in sorted(cores):
        if runs and runs[-1][-1] == core - 1:
            runs[-1].append(core)
        else:
            runs.append([core])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


_UNIT_DAYS = {"ms": 0.0, "s": 0.0, "m": 0.0, "h": 1 / 24, "d": 1.0, "w": 7.0, "y": 365.0}


def duration_days(text: str) -> int:
    """Whole days covered by a Prometheus-style duration, rounded up (``36h`` -> 2)."""
    total = sum(int(n) * _UNIT_DAYS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", text))
    return max(1, math.ceil(total))


_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float:
    """Seconds of a Prometheus-style duration (``1h30m`` -> 5400; ``0`` -> 0)."""
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", text))


def retention_hours(duration: str) -> str:
    """Loki's and Tempo's retention in hours: 31d -> 744h."""
    if duration.endswith("h"):
        return duration
    return f"{duration_days(duration) * 24}h"


def is_size(text: str) -> bool:
    return bool(_SIZE.fullmatch(text))


def size_in_bytes(text: str) -> int:
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * _SIZE_FACTORS[m.group(2)]


def shown(value: Any) -> str:
    """How a (non-secret) value appears in a problem message."""
    if value is None:
        return "(missing)"
    return repr(value) if isinstance(value, str) else json.dumps(value)
