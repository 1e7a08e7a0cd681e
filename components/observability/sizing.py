"""CPU and memory of every workload the stack runs, and the permanent pool's capacity check.

One table: the Helm values take their requests and limits from it, and the capacity check
sums it, so the check cannot drift from what is deployed.  Everything in ``PERMANENT_POOL``
is pinned to the permanent pool (nodeSelector ``platform.trading/pool=permanent``);
DaemonSets run on every node, so one copy counts per permanent node.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import Problem, StackConfig, size_in_bytes

CAPACITY_LIMIT = 0.80  # of the permanent pool's allocatable CPU and memory


@dataclass(frozen=True)
class Workload:
    name: str
    cpu_request: float  # cores
    cpu_limit: float
    memory_request: int  # MiB
    memory_limit: int
    replicas: int = 1
    daemonset: bool = False

    def resources(self) -> dict:
        return {
            "requests": {"cpu": _cpu(self.cpu_request), "memory": f"{self.memory_request}Mi"},
            "limits": {"cpu": _cpu(self.cpu_limit), "memory": f"{self.memory_limit}Mi"},
        }


def _cpu(cores: float) -> str:
    return f"{round(cores * 1000)}m"


_TABLE = [
    # kube-prometheus-stack
    Workload("prometheus", 1.0, 2.0, 4096, 8192),
    Workload("alertmanager", 0.05, 0.2, 128, 256, replicas=2),
    Workload("grafana", 0.2, 0.5, 512, 1024),
    Workload("grafana-sidecar", 0.02, 0.1, 64, 128),  # the dashboard sidecar
    Workload("admission-webhook-job", 0.02, 0.1, 32, 64, replicas=2),  # install hooks: create, patch
    Workload("prometheus-operator", 0.1, 0.3, 128, 256),
    Workload("config-reloader", 0.05, 0.1, 32, 64, replicas=3),  # sidecars of Prometheus and Alertmanager
    Workload("kube-state-metrics", 0.1, 0.3, 192, 384),
    Workload("node-exporter", 0.05, 0.2, 64, 128, daemonset=True),
    # logs and traces
    Workload("loki", 0.5, 1.5, 1024, 2048),
    Workload("alloy", 0.1, 0.5, 256, 512, daemonset=True),
    Workload("alloy-config-reloader", 0.01, 0.05, 32, 64, daemonset=True),
    Workload("tempo", 0.25, 1.0, 1024, 2048),
    Workload("otel-collector", 0.25, 1.0, 512, 1024, replicas=2),
    # exporters, ingress, certificates
    Workload("postgres-exporter", 0.05, 0.1, 64, 128),
    Workload("statsd-exporter", 0.05, 0.1, 64, 128),
    Workload("blackbox-exporter", 0.05, 0.1, 64, 128),
    Workload("cert-manager", 0.05, 0.2, 128, 256),
    Workload("cert-manager-webhook", 0.02, 0.1, 64, 128),
    Workload("cert-manager-cainjector", 0.05, 0.2, 128, 256),
    Workload("cert-manager-startupapicheck", 0.02, 0.1, 32, 64),  # install hook
    Workload("traefik", 0.1, 0.5, 128, 256, replicas=2),
]
PERMANENT_POOL = {w.name: w for w in _TABLE}


def resources(name: str) -> dict:
    return PERMANENT_POOL[name].resources()


@dataclass(frozen=True)
class Usage:
    cpu_requested: float
    cpu_allocatable: float
    memory_requested_mib: float
    memory_allocatable_mib: float
    by_workload: dict[str, tuple[float, int]]  # name -> (cpu, memory MiB) across replicas

    @property
    def cpu_ratio(self) -> float:
        return self.cpu_requested / self.cpu_allocatable

    @property
    def memory_ratio(self) -> float:
        return self.memory_requested_mib / self.memory_allocatable_mib

    def biggest(self, index: int, count: int = 3) -> str:
        top = sorted(self.by_workload.items(), key=lambda kv: kv[1][index], reverse=True)[:count]
        unit = "cores" if index == 0 else "MiB"
        return ", ".join(f"{name} {value[index]:g} {unit}" for name, value in top)


def permanent_pool_usage(nodes: int, cpu_per_node: float, memory_gib_per_node: float) -> Usage:
    by_workload: dict[str, tuple[float, int]] = {}
    for w in _TABLE:
        copies = nodes if w.daemonset else w.replicas
        by_workload[w.name] = (round(w.cpu_request * copies, 3), w.memory_request * copies)
    return Usage(
        cpu_requested=sum(v[0] for v in by_workload.values()),
        cpu_allocatable=nodes * cpu_per_node,
        memory_requested_mib=sum(v[1] for v in by_workload.values()),
        memory_allocatable_mib=nodes * memory_gib_per_node * 1024,
        by_workload=by_workload,
    )


def permanent_pool_summary(cfg: StackConfig) -> dict:
    """The permanent pool's requested share, as the stack output ``permanent_pool_requests``."""
    node = cfg.node_allocatable[cfg.permanent_pool.node_type]
    usage = permanent_pool_usage(cfg.permanent_pool.size, node.cpu, node.memory_gib)
    return {
        "cpu_cores": round(usage.cpu_requested, 3),
        "cpu_allocatable": usage.cpu_allocatable,
        "cpu_percent": round(100 * usage.cpu_ratio, 1),
        "memory_mib": usage.memory_requested_mib,
        "memory_allocatable_mib": usage.memory_allocatable_mib,
        "memory_percent": round(100 * usage.memory_ratio, 1),
        "limit_percent": round(100 * CAPACITY_LIMIT),
    }


# The persistent volume of each component (GiB per claim): the values request these and the
# cost estimate bills them.  Prometheus's comes from config; Tempo's is its chart's 10Gi default
# (setting it again would be an inert key).
VOLUME_GIB = {"alertmanager": 2, "grafana": 10, "loki": 10, "tempo": 10}


def volumes_gib(cfg: StackConfig) -> dict[str, int]:
    """Every claim's size, replicas included, for the cost estimate."""
    claims = {name: size * PERMANENT_POOL[name].replicas for name, size in VOLUME_GIB.items()}
    return {"prometheus": -(-size_in_bytes(cfg.observability.prometheus_volume_size) // 1024**3), **claims}


def capacity_problems(cfg: StackConfig) -> list[Problem]:
    """Everything pinned to the permanent pool must fit in 80% of its allocatable resources."""
    pool = cfg.permanent_pool
    if not pool.node_type:
        return []
    node = cfg.node_allocatable.get(pool.node_type)
    if node is None:
        return [
            Problem(
                "permanentPoolNodeType",
                repr(pool.node_type),
                f"a node type listed in nodeAllocatable ({', '.join(cfg.node_allocatable) or 'empty'})",
            )
        ]
    usage = permanent_pool_usage(pool.size, node.cpu, node.memory_gib)
    limit = f"{CAPACITY_LIMIT:.0%}"
    problems = []
    if usage.cpu_ratio > CAPACITY_LIMIT:
        problems.append(
            Problem(
                "permanentPoolNodeType",
                repr(pool.node_type),
                f"a node type (or a larger permanentPoolSize) whose allocatable CPU covers the requests: "
                f"{usage.cpu_requested:g} of {usage.cpu_allocatable:g} cores requested = {usage.cpu_ratio:.0%}, "
                f"over {limit}; biggest: {usage.biggest(0)}",
            )
        )
    if usage.memory_ratio > CAPACITY_LIMIT:
        problems.append(
            Problem(
                "permanentPoolNodeType",
                repr(pool.node_type),
                f"a node type (or a larger permanentPoolSize) whose allocatable memory covers the requests: "
                f"{usage.memory_requested_mib:g} of {usage.memory_allocatable_mib:g} MiB requested = "
                f"{usage.memory_ratio:.0%}, over {limit}; biggest: {usage.biggest(1)}",
            )
        )
    return problems
