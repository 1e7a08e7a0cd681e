"""The production profile of the synthetic cluster: what a trading firm's cluster adds to the
spec's small one, at a chosen size (``size=1``: 20 permanent-pool nodes of 16 CPUs, about 800
live pods and 1,100 over the 12 hours, 150,000+ series).

Added to the small cluster's series (bench/synthetic_cluster.py), with the label shapes it uses:

* nodes: the permanent pool, and one compute node per fine-tuning run (the autoscaler names a
  new node at every scale-up and deletes it after the scale-down delay);
* pods: deployments of three replicas spread over the permanent pool, a third of them rolled
  once in the window (new ReplicaSet, new pod names), four DaemonSets on every node, and
  fine-tuning runs of five pods that come and go;
* per pod, the kube-state-metrics families of ``../shared/reference/metrics/kube-state-metrics.txt``
  a pod has, and the cAdvisor families kubelet's ``/metrics/cadvisor`` serves, less those
  kube-prometheus-stack's ``cAdvisorMetricRelabelings`` drop (chart values.yaml,
  ``kubelet.serviceMonitor.cAdvisorMetricRelabelings``): a series for the pod's cgroup
  (``container=""``) and one per container, network per pod and interface;
* per node, node-exporter's families (every CPU and mode, filesystems, disks, interfaces);
* Traefik: more services, each with the chart's default buckets (0.1, 0.3, 1.2, 5, +Inf:
  ``metrics.prometheus.buckets``) and the label set of ``traefik_service_*``
  (code, method, protocol, service).

The series the dashboard and the rules read vary sample by sample; the others hold steady
values (they weigh on the index and the head as in production; nothing reads their samples).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bench.fine_tuning_scenario import STEP

if TYPE_CHECKING:
    from bench.openmetrics_blocks import Writer

GI = 1024**3
WORLD = yaml.safe_load((Path(__file__).with_name("production_families.yaml")).read_text())


@dataclass(frozen=True)
class Wave:
    """A per-second rate at tick i: mean * (1 + depth * sin(i / period + phase))."""

    mean: float
    depth: float
    period: float
    phase: float

    def __call__(self, i: int) -> float:
        return self.mean * (1 + self.depth * math.sin(i / self.period + self.phase))

    def __mul__(self, factor: float) -> Wave:
        return Wave(self.mean * factor, self.depth, self.period, self.phase)


def _in_phase(phase: str, running: int) -> Callable[[int], str]:
    """kube_pod_status_phase's value at tick i for a pod Pending until ``running``, then Running."""
    if phase == "Pending":
        return lambda i: "1" if i < running else "0"
    if phase == "Running":
        return lambda i: "1" if i >= running else "0"
    return lambda i: "0"


@dataclass(frozen=True)
class Size:
    permanent_nodes: int
    deployments: int
    fine_tune_runs: int
    services: int
    cpus: int = 16
    replicas: int = 3

    @classmethod
    def of(cls, size: float) -> Size:
        return cls(
            permanent_nodes=max(1, round(20 * size)),
            deployments=max(2, round(220 * size)),
            fine_tune_runs=max(1, round(14 * size)),
            services=max(1, round(10 * size)),
        )


@dataclass
class Workload:
    namespace: str
    name: str
    node: str
    first: int  # tick created
    last: int  # tick gone (exclusive)
    running: int  # tick running from
    cpu: float  # cores in use
    memory: float  # bytes in use
    rx: float  # bytes/s received
    restarts: tuple[int, ...] = ()


class ScaleOut:
    """Writes the production profile's series into a Writer, tick by tick of the scrape interval."""

    def __init__(self, w: Writer, ticks: int, size: float, seed: int = 11):
        self.w, self.ticks, self.size = w, ticks, Size.of(size)
        self.rng = random.Random(seed)
        self.written: set[str] = set()
        self.suffix = [f" {w.start + i * STEP}\n" for i in range(ticks)]

    # ---------------------------------------------------------------- writing

    def _prefix(self, name: str, labels: dict[str, str]) -> str:
        prefix = self.w.prefix(name, labels)
        if prefix in self.written:  # promtool refuses a series written twice ("out of order sample")
            raise ValueError(f"series written twice: {prefix}")
        self.written.add(prefix)
        return prefix

    def steady(self, name: str, labels: dict[str, str], value: str, first: int, last: int) -> None:
        prefix, suffix, start = self._prefix(name, labels), self.suffix, self.w.start
        self.w.lines([(start + i * STEP, prefix + value + suffix[i]) for i in range(first, last)])

    def varying(self, name: str, labels: dict[str, str], first: int, last: int, value: Callable[[int], str]) -> None:
        prefix, suffix, start = self._prefix(name, labels), self.suffix, self.w.start
        self.w.lines([(start + i * STEP, prefix + value(i) + suffix[i]) for i in range(first, last)])

    def counter(self, name: str, labels: dict[str, str], first: int, last: int, per_s: Callable[[int], float]) -> None:
        total = [0.0]

        def step(i: int) -> str:
            total[0] += STEP * per_s(i)
            return f"{total[0]:.10g}"

        self.varying(name, labels, first, last, step)

    # ---------------------------------------------------------------- the world

    def nodes(self) -> list[tuple[str, int, int]]:
        names = [
            (f"scw-trading-prod-permanent-{0x4F1C + 97 * (k + 1):04x}", 0, self.ticks)
            for k in range(self.size.permanent_nodes)
        ]
        return names + [
            (f"scw-trading-prod-compute-{0xA000 + 131 * r:04x}", *self._run_span(r, node=True))
            for r in range(self.size.fine_tune_runs)
        ]

    def _run_span(self, run: int, node: bool = False) -> tuple[int, int]:
        """Ticks of fine-tuning run ``run``: 100 minutes; its node from 2 minutes before to 15 after."""
        per_minute = 60 // STEP
        start = (15 + run * 680 // self.size.fine_tune_runs) * per_minute
        end = start + 100 * per_minute
        return (
            (start - 2 * per_minute, min(self.ticks, end + 15 * per_minute)) if node else (start, min(self.ticks, end))
        )

    def workloads(self, nodes: list[tuple[str, int, int]]) -> list[Workload]:
        rng, size, ticks = self.rng, self.size, self.ticks
        permanent = [n for n in nodes if "permanent" in n[0]]
        pods: list[Workload] = []
        for k in range(size.deployments):
            namespace, name = (
                WORLD["namespaces"][k % len(WORLD["namespaces"])],
                f"{WORLD['workloads'][k % len(WORLD['workloads'])]}-{k:03d}",
            )
            cpu, memory, rx = rng.uniform(0.05, 0.9), rng.uniform(0.2, 3) * GI, rng.uniform(2e3, 4e5)
            rolled = ticks * (1 + k % 7) // 9 if k % 3 == 0 else None  # a third roll once in the window
            for generation, (first, last) in enumerate(
                ((0, rolled or ticks), (rolled, ticks)) if rolled else ((0, ticks),)
            ):
                for r in range(size.replicas):
                    node = permanent[(k * size.replicas + r) % len(permanent)][0]
                    pod = f"{name}-{0x5B8C9D + 7919 * (k + generation):x}-{rng.getrandbits(20):05x}"
                    restarts = (rng.randrange(first + 2, last),) if rng.random() < 0.04 and last - first > 4 else ()
                    pods.append(
                        Workload(
                            namespace, pod, node, first, last, first + 2 if first else 0, cpu, memory, rx, restarts
                        )
                    )
        for node, first, last in nodes:
            for namespace, daemonset in WORLD["daemonsets"]:
                pod = f"{daemonset}-{rng.getrandbits(20):05x}"
                pods.append(
                    Workload(namespace, pod, node, first, last, first + 1 if first else 0, 0.05, 0.15 * GI, 5e3)
                )
        for run in range(size.fine_tune_runs):
            first, last = self._run_span(run)
            node = nodes[size.permanent_nodes + run][0]
            for i in range(1, 6):
                restarts = (first + (last - first) // 2,) if (run + i) % 9 == 0 else ()
                pods.append(
                    Workload(
                        "ml",
                        f"finetune-prod-r{run:02d}-{i}",
                        node,
                        first,
                        last,
                        first + 8,
                        3.1,
                        1.1 * GI,
                        3e5,
                        restarts,
                    )
                )
        return pods

    # ---------------------------------------------------------------- families

    def write(self) -> dict[str, int]:
        nodes = self.nodes()
        pods = self.workloads(nodes)
        for node, first, last in nodes:
            self.node_exporter(node, first, last)
        for p in pods:
            self.kube_state_metrics(p)
            self.cadvisor(p)
        deployments = {p.name.rsplit("-", 2)[0]: p for p in pods if p.namespace == "hft-services"}
        self.traefik(list(deployments.values())[: self.size.services])
        live_end = sum(1 for p in pods if p.last >= self.ticks)
        return {"nodes": len(nodes), "pods": len(pods), "pods_live_at_end": live_end}

    def node_exporter(self, node: str, first: int, last: int) -> None:
        labels = {"job": "node-exporter", "instance": node}
        phase = self.rng.uniform(0, 6)
        busy, idle = Wave(0.45, 0.25 / 0.45, 180, phase), Wave(0.55, -0.25 / 0.55, 180, phase)
        for cpu in range(self.size.cpus):
            cpu_labels = {**labels, "cpu": str(cpu)}
            self.counter("node_cpu_seconds_total", {**cpu_labels, "mode": "idle"}, first, last, idle)
            for mode, share in WORLD["cpu_modes"].items():
                self.counter("node_cpu_seconds_total", {**cpu_labels, "mode": mode}, first, last, busy * share)
        memory = 64 * GI
        self.steady("node_memory_MemTotal_bytes", labels, str(memory), first, last)
        self.varying(
            "node_memory_MemAvailable_bytes",
            labels,
            first,
            last,
            lambda i: f"{memory * (0.55 + 0.1 * math.sin(i / 240 + phase)):.0f}",
        )
        for name, value in (
            ("node_memory_SwapTotal_bytes", "0"),
            ("node_memory_SwapFree_bytes", "0"),
            ("node_filefd_allocated", "4200"),
            ("node_filefd_maximum", "1048576"),
            ("up", "1"),
        ):
            self.steady(name, labels, value, first, last)
        self.steady("up", {"job": "kubelet", "instance": node}, "1", first, last)
        for name, count in WORLD["node_steady"].items():
            for k in range(count):
                self.steady(name, {**labels, "device": f"d{k}"}, "1", first, last)

    def kube_state_metrics(self, p: Workload) -> None:
        ident = {
            "job": "kube-state-metrics",
            "instance": "10.32.1.10:8080",
            "namespace": p.namespace,
            "pod": p.name,
            "uid": f"uid-{p.name}",
        }
        container = {**ident, "container": p.name.split("-")[0]}
        first, last, running = p.first, p.last, p.running
        self.steady("kube_pod_info", {**ident, "node": p.node, "created_by_kind": "ReplicaSet"}, "1", first, last)
        self.steady("kube_pod_created", ident, str(self.w.start + first * STEP), first, last)
        for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
            in_phase = _in_phase(phase, running)
            self.varying("kube_pod_status_phase", {**ident, "phase": phase}, first, last, in_phase)
        for condition in ("kube_pod_status_ready", "kube_pod_status_scheduled"):
            for status in ("true", "false", "unknown"):
                self.steady(condition, {**ident, "condition": status}, "1" if status == "true" else "0", first, last)
        for name in WORLD["ksm_pod_steady"]:
            self.steady(name, ident, "1", first, last)
        self.varying(
            "kube_pod_container_status_running", container, first, last, lambda i: "1" if i >= running else "0"
        )
        self.varying(
            "kube_pod_container_status_restarts_total",
            container,
            first,
            last,
            lambda i: str(sum(1 for t in p.restarts if i >= t)),
        )
        if p.restarts:
            reason = "OOMKilled" if p.namespace == "ml" else "Error"
            self.steady(
                "kube_pod_container_status_last_terminated_reason",
                {**container, "reason": reason},
                "1",
                p.restarts[0],
                last,
            )
        for resource, unit, request in (
            ("cpu", "core", round(p.cpu * 1.2, 2)),
            ("memory", "byte", round(p.memory * 1.3)),
        ):
            for family, value in (("requests", request), ("limits", 2 * request)):
                self.steady(
                    f"kube_pod_container_resource_{family}",
                    {**container, "node": p.node, "resource": resource, "unit": unit},
                    f"{value}",
                    first,
                    last,
                )
        for name in WORLD["ksm_container_steady"]:
            self.steady(name, container, "1", first, last)

    def cadvisor(self, p: Workload) -> None:
        first, last = p.running, p.last
        base = {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "instance": p.node,
            "node": p.node,
            "namespace": p.namespace,
            "pod": p.name,
        }
        cgroup = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{p.name.replace('-', '_')}.slice"
        wobble = self.rng.uniform(0, 6)
        for container, image, share in (
            ("", "", 1.0),
            (p.name.split("-")[0], f"registry.example.com/{p.name.split('-')[0]}:1", 1.0),
        ):
            labels = {
                **base,
                "container": container,
                "image": image,
                "id": cgroup + (f"/cri-containerd-{container}.scope" if container else ""),
                "name": container and f"{zlib.crc32(p.name.encode()):012x}",
            }
            cpu = lambda i, share=share: p.cpu * share * (1 + 0.15 * math.sin(i / 40 + wobble))  # noqa: E731
            self.counter("container_cpu_usage_seconds_total", labels, first, last, cpu)
            self.counter("container_cpu_cfs_periods_total", labels, first, last, lambda i: 10.0)
            self.counter(
                "container_cpu_cfs_throttled_periods_total",
                labels,
                first,
                last,
                lambda i: 0.4 if p.namespace == "ml" else 0.05,
            )
            self.varying(
                "container_memory_working_set_bytes",
                labels,
                first,
                last,
                lambda i: f"{p.memory * (1 + 0.05 * math.sin(i / 60 + wobble)):.0f}",
            )
            for direction, rate in (("reads", 2e4), ("writes", 6e4 if p.namespace == "ml" else 1e4)):
                self.counter(
                    f"container_fs_{direction}_bytes_total",
                    {**labels, "device": "/dev/sda"},
                    first,
                    last,
                    Wave(rate, 0, 1, 0),
                )
            for name, count in WORLD["cadvisor_steady"].items():
                for k in range(count):
                    self.steady(name, {**labels, "device": f"d{k}"}, "1", first, last)
        network = {**base, "container": "", "image": "", "id": cgroup, "name": "", "interface": "eth0"}
        for direction, share in (("receive", 1.0), ("transmit", 0.4)):
            self.counter(
                f"container_network_{direction}_bytes_total",
                network,
                first,
                last,
                Wave(p.rx * share, 0.3, 30, wobble),
            )
        for name in WORLD["network_steady"]:
            self.steady(f"container_network_{name}", network, "1", first, last)

    def traefik(self, backends: list[Workload]) -> None:
        for k, backend in enumerate(backends):
            service = f"{backend.namespace}-{backend.name.rsplit('-', 2)[0]}-8080@kubernetes"
            rps, latency = 40 / (k + 1), 0.02 + 0.01 * (k % 5)
            for method, code, share in WORLD["traefik_calls"]:
                labels = {"job": "traefik", "instance": "10.32.3.4:9100", "service": service}
                labels.update(method=method, protocol="http", code=code)
                requests = Wave(1.2 * rps * share, 0.4, 120, k)
                self.counter("traefik_service_requests_total", labels, 0, self.ticks, requests)
                for le in WORLD["traefik_buckets"]:
                    below = 1.0 if le == "+Inf" else 1 - math.exp(-float(le) / latency)
                    bucket = {**labels, "le": le}
                    self.counter(
                        "traefik_service_request_duration_seconds_bucket", bucket, 0, self.ticks, requests * below
                    )
                self.counter("traefik_service_request_duration_seconds_sum", labels, 0, self.ticks, requests * latency)
                self.counter("traefik_service_request_duration_seconds_count", labels, 0, self.ticks, requests)
                for name in ("traefik_service_requests_bytes_total", "traefik_service_responses_bytes_total"):
                    self.counter(name, labels, 0, self.ticks, requests * 800)
