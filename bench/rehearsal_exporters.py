"""Local stand-ins for the exporters Debian does not package, for the live rehearsal.

Each serves, on 127.0.0.1 and a free port, the series the real exporter exposes, with the real
names and label shapes (../shared/reference/metrics/: kube-state-metrics v2.20 docs, kubelet
and cAdvisor, Traefik v3, statsd-exporter with the stack's Airflow mapping, cert-manager,
the OpenTelemetry Collector, Loki and Tempo), computed at scrape time from ``Cluster``: the
state the rehearsal's faults change.  Counters grow with time at the rate the state gives, as
the real ones do between scrapes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PERMANENT_NODE = "scw-trading-prod-permanent-4f1c9a2e"
LOW_LATENCY_NODE = "scw-trading-prod-low-latency-8d2e61b0"


class Counter:
    """A counter that grows at ``rate`` per second; ``add`` for a step (a restart)."""

    def __init__(self, rate: float = 0.0):
        self.rate, self._value, self._at = rate, 0.0, time.monotonic()
        self._lock = threading.Lock()

    def value(self) -> float:
        with self._lock:
            now = time.monotonic()
            self._value += self.rate * (now - self._at)
            self._at = now
            return self._value

    def set_rate(self, rate: float) -> None:
        self.value()
        self.rate = rate

    def add(self, amount: float) -> None:
        with self._lock:
            self._value += amount


@dataclass
class Container:
    namespace: str
    pod: str
    container: str
    uid: str
    restarts: Counter = field(default_factory=Counter)
    waiting_reason: str = ""  # CrashLoopBackOff while kubelet backs off
    terminated_reason: str = ""  # OOMKilled while the container is terminated
    last_terminated_reason: str = ""


@dataclass
class Volume:
    namespace: str
    claim: str
    capacity: float
    used: float


@dataclass
class Cluster:
    """What the stand-ins report; the rehearsal's faults and recoveries change it."""

    containers: list[Container] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    requests: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (service, code)
    heartbeat: Counter = field(default_factory=lambda: Counter(rate=1 / 5))  # Airflow: every 5 s
    certificates: dict[tuple[str, str], float] = field(default_factory=dict)  # (namespace, name) -> expiry
    cpu: dict[str, Counter] = field(default_factory=dict)  # cAdvisor's per-container counters
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def healthy(cls) -> Cluster:
        day = 86400
        cluster = cls(
            containers=[
                Container("trading", "strategy-api-7d4b9-k2x8p", "api", "5c1d"),
                Container("ml", "finetune-run-20261124-x7q2m", "trainer", "9e2a"),
                Container("airflow", "airflow-scheduler-0", "scheduler", "77aa"),
                Container("monitoring", "prometheus-kube-prometheus-stack-prometheus-0", "prometheus", "41b0"),
            ],
            volumes=[
                Volume(
                    "monitoring",
                    "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
                    50e9,
                    21e9,
                ),
                Volume("monitoring", "storage-loki-0", 20e9, 6e9),
            ],
            certificates={("monitoring", "grafana-tls"): time.time() + 75 * day},
        )
        for service in ("trading-api-8080@kubernetes", "monitoring-kube-prometheus-stack-grafana-80@kubernetes"):
            cluster.requests[(service, "200")] = Counter(rate=20.0)
            cluster.requests[(service, "500")] = Counter()
        return cluster

    def container(self, pod: str) -> Container:
        return next(c for c in self.containers if c.pod == pod)


def _line(name: str, labels: dict[str, str], value: float) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{body}}} {value}\n"


def kube_state_metrics(cluster: Cluster) -> str:
    out = []
    for node in (PERMANENT_NODE, LOW_LATENCY_NODE):
        out.append(
            _line(
                "kube_node_info",
                {
                    "node": node,
                    "kernel_version": "6.8.0-49-generic",
                    "os_image": "Ubuntu 24.04.1 LTS",
                    "container_runtime_version": "containerd://1.7.24",
                    "kubelet_version": "v1.35.0",
                    "provider_id": f"scaleway://instance/fr-par-2/{node}",
                    "internal_ip": "172.16.16.20",
                },
                1,
            )
        )
        for status in ("true", "false", "unknown"):
            out.append(
                _line(
                    "kube_node_status_condition",
                    {"node": node, "condition": "Ready", "status": status},
                    1 if status == "true" else 0,
                )
            )
    with cluster.lock:
        for c in cluster.containers:
            ids = {"namespace": c.namespace, "pod": c.pod, "uid": c.uid, "container": c.container}
            pod = {"namespace": c.namespace, "pod": c.pod, "uid": c.uid}
            out.append(
                _line(
                    "kube_pod_container_info",
                    {
                        **ids,
                        "image": f"registry.invalid/{c.container}:1",
                        "image_id": "",
                        "container_id": f"containerd://{c.uid}",
                    },
                    1,
                )
            )
            out.append(_line("kube_pod_container_status_restarts_total", ids, int(c.restarts.value())))
            running = not (c.waiting_reason or c.terminated_reason)
            out.append(_line("kube_pod_container_status_running", ids, 1 if running else 0))
            for reason, name in ((c.waiting_reason, "waiting"), (c.terminated_reason, "terminated")):
                if reason:
                    out.append(_line(f"kube_pod_container_status_{name}_reason", {**ids, "reason": reason}, 1))
            if c.last_terminated_reason:
                out.append(
                    _line(
                        "kube_pod_container_status_last_terminated_reason",
                        {**ids, "reason": c.last_terminated_reason},
                        1,
                    )
                )
            for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
                out.append(_line("kube_pod_status_phase", {**pod, "phase": phase}, 1 if phase == "Running" else 0))
    return "".join(out)


def kubelet(cluster: Cluster) -> str:
    out = []
    with cluster.lock:
        for v in cluster.volumes:
            labels = {"namespace": v.namespace, "persistentvolumeclaim": v.claim}
            out.append(_line("kubelet_volume_stats_capacity_bytes", labels, v.capacity))
            out.append(_line("kubelet_volume_stats_used_bytes", labels, v.used))
            out.append(_line("kubelet_volume_stats_available_bytes", labels, v.capacity - v.used))
    return "".join(out)


def cadvisor(cluster: Cluster) -> str:
    out = []
    with cluster.lock:
        for c in cluster.containers:
            labels = {
                "container": c.container,
                "id": f"/kubepods/pod{c.uid}/{c.container}",
                "image": f"registry.invalid/{c.container}:1",
                "name": c.uid,
                "namespace": c.namespace,
                "pod": c.pod,
            }
            usage = cluster.cpu.setdefault(c.uid, Counter(rate=0.25))
            out.append(_line("container_cpu_usage_seconds_total", {**labels, "cpu": "total"}, usage.value()))
            periods = cluster.cpu.setdefault(c.uid + "/periods", Counter(rate=10.0))
            out.append(_line("container_cpu_cfs_periods_total", labels, int(periods.value())))
            out.append(_line("container_cpu_cfs_throttled_periods_total", labels, 0))
            out.append(_line("container_memory_working_set_bytes", labels, 512e6))
    return "".join(out)


def traefik(cluster: Cluster) -> str:
    with cluster.lock:
        return "".join(
            _line(
                "traefik_service_requests_total",
                {"code": code, "method": "GET", "protocol": "http", "service": service},
                int(counter.value()),
            )
            for (service, code), counter in sorted(cluster.requests.items())
        )


def statsd(cluster: Cluster) -> str:
    # The stack's mapping turns airflow.scheduler_heartbeat into this counter.
    return _line("airflow_scheduler_heartbeat", {}, int(cluster.heartbeat.value())) + _line(
        "statsd_exporter_samples_total", {}, int(cluster.heartbeat.value())
    )


def cert_manager(cluster: Cluster) -> str:
    out = []
    with cluster.lock:
        for (namespace, name), expiry in sorted(cluster.certificates.items()):
            labels = {
                "name": name,
                "namespace": namespace,
                "issuer_name": "letsencrypt",
                "issuer_kind": "ClusterIssuer",
                "issuer_group": "cert-manager.io",
            }
            out.append(_line("certmanager_certificate_expiration_timestamp_seconds", labels, expiry))
            out.append(_line("certmanager_certificate_renewal_timestamp_seconds", labels, expiry - 30 * 86400))
            out.append(_line("certmanager_certificate_ready_status", {**labels, "condition": "True"}, 1))
    return "".join(out)


def pipeline(component: str) -> Callable[[Cluster], str]:
    """The telemetry pipeline's own counters, all quiet: the rehearsal injects no pipeline fault."""
    names = {
        "otel-collector": [
            f"otelcol_{kind}_{signal}_total"
            for kind in ("receiver_refused", "exporter_send_failed")
            for signal in ("spans", "metric_points", "log_records")
        ],
        "loki": ["loki_discarded_samples_total"],
        "tempo": ["tempo_discarded_spans_total"],
        "alloy": ["alloy_build_info"],
    }[component]
    return lambda _cluster: "".join(_line(n, {}, 0 if n.endswith("_total") else 1) for n in names)


class Exporter:
    """One stand-in on 127.0.0.1: ``paths`` maps a URL path to what it serves."""

    def __init__(self, cluster: Cluster, paths: dict[str, Callable[[Cluster], str]]):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                produce = paths.get(self.path.split("?")[0])
                body = produce(cluster).encode() if produce else b""
                self.send_response(200 if produce else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# The scrape (as the rendered ServiceMonitors name it) each stand-in answers, and what it serves.
STAND_INS: dict[str, dict[str, Callable[[Cluster], str]]] = {
    "kube-prometheus-stack-kube-state-metrics": {"/metrics": kube_state_metrics},
    "traefik": {"/metrics": traefik},
    "statsd-exporter": {"/metrics": statsd},
    "cert-manager": {"/metrics": cert_manager},
    "otel-collector": {"/metrics": pipeline("otel-collector")},
    "loki": {"/metrics": pipeline("loki")},
    "tempo": {"/metrics": pipeline("tempo")},
    "alloy": {"/metrics": pipeline("alloy")},
    "kubelet": {"/metrics": kubelet, "/metrics/cadvisor": cadvisor},
}
