"""A synthetic 12 hours of the spec's cluster, served by a real Prometheus on 127.0.0.1.

Shared by the dashboard query test and the dashboard-load benchmark:

* ``write_openmetrics``: 12 hours of samples, every 30 s, with the label sets the real
  exporters give — the permanent node and a compute node that wakes for a fine-tuning run of
  5 pods (then a second run starting at the end), Airflow, MLflow, the API, the three
  bare-metal hosts; kube-state-metrics, cAdvisor (via kubelet), node-exporter, kubelet volume
  stats, blackbox, cert-manager, postgres-exporter, Traefik, statsd (Airflow).
* ``SyntheticPrometheus``: loads it with ``promtool tsdb create-blocks-from openmetrics``,
  backfills the recording rules with ``promtool tsdb create-blocks-from rules`` (level by
  level: a rule that reads another recorded series is backfilled after it), and serves it
  with the stack's rule files loaded; ``stop()`` ends the server.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from pathlib import Path

from bench.fine_tuning_scenario import COMPUTE_A, COMPUTE_B, HOSTS, HOURS, PERMANENT, STEP, Pod, scenario
from bench.openmetrics_blocks import Writer
from bench.production_cluster import ScaleOut

__all__ = ["write_openmetrics"]


Node = tuple[int, int | None, int, int]  # created minute, gone minute, cpus, memory bytes
NODES: dict[str, Node] = {
    PERMANENT: (-3000, None, 8, 32 * 1024**3),
    COMPUTE_A: (122, 315, 8, 16 * 1024**3),
    COMPUTE_B: (0, None, 8, 16 * 1024**3),  # created two minutes before the end: set per run
}


def container_counters(p: Pod) -> dict[str, Callable[[float], float]]:
    """cAdvisor's counters of one container: per-second increase at minute t."""
    return {
        "container_cpu_usage_seconds_total": lambda t: max(0.001, p.cpu_use * (1 + 0.1 * math.sin(t / 7))),
        "container_cpu_cfs_periods_total": lambda t: 10.0,
        "container_cpu_cfs_throttled_periods_total": lambda t: 10.0 * p.throttle,
        "container_fs_writes_bytes_total": lambda t: p.fs_write * (3 if int(t) % 30 == 0 else 0.2),
        "container_fs_reads_bytes_total": lambda t: p.fs_write / 2,
    }


def write_openmetrics(directory: Path, end: int, hours: int = HOURS, seed: int = 7, size: float = 0.0) -> dict:
    """Write the synthetic cluster into ``directory`` (one OpenMetrics file per two-hour block);
    return counts and the files.  ``end`` is a Unix time (seconds); ``size`` > 0 adds the
    production profile at that size (bench/production_cluster.py)."""
    rng = random.Random(seed)
    minutes = hours * 60
    start = end - minutes * 60
    start -= start % STEP
    ticks = [i * STEP / 60 for i in range(int(minutes * 60 / STEP) + 1)]
    nodes = dict(NODES)
    nodes[COMPUTE_B] = (minutes - 2, None, 8, 16 * 1024**3)
    pods = scenario(minutes)
    w = Writer(directory, start)

    def alive(t: float, first: float | None, last: float | None) -> bool:
        return (first is None or t >= first) and (last is None or t < last)

    def wave(t: float, base: float, amp: float, period: float = 180, phase: float = 0.0) -> float:
        return base + amp * math.sin(2 * math.pi * (t + phase) / period)

    def node_busy(node: str, t: float) -> float:
        """The CPU share a node's workload keeps busy at minute t."""
        if "compute" in node:
            running = any(p.node == node and alive(t, p.running_from, p.end) for p in pods)
            return 0.85 if running else 0.08
        return wave(t, 0.42, 0.12) if node == PERMANENT else 0.80

    # ---- node-exporter: Kubernetes nodes and the bare-metal hosts
    targets = [(n, {"job": "node-exporter", "instance": n}, spec) for n, spec in nodes.items()]
    targets += [
        (
            role,
            {"job": "critical-path-node-exporter", "instance": f"{ip}:9100", "role": role},
            (-3000, None, 16, 256 * 1024**3),
        )
        for role, ip in HOSTS.items()
    ]
    for key, labels, (created, gone, cpus, memory) in targets:
        busy_of = functools.partial(node_busy, key)
        for cpu in range(min(cpus, 4)):
            for mode, share in (("idle", None), ("user", 0.7), ("system", 0.25), ("iowait", 0.05)):
                total, points = 0.0, []
                for t in ticks:
                    if not alive(t, created, gone):
                        continue
                    busy = min(0.99, max(0.01, busy_of(t) + rng.uniform(-0.03, 0.03)))
                    total += STEP * ((1 - busy) if share is None else busy * share)
                    points.append((t, total))
                w.series("node_cpu_seconds_total", {**labels, "cpu": str(cpu), "mode": mode}, points)
        live = [t for t in ticks if alive(t, created, gone)]
        w.series("node_memory_MemTotal_bytes", labels, [(t, memory) for t in live])
        w.series(
            "node_memory_MemAvailable_bytes",
            labels,
            [(t, memory * (1 - (wave(t, 0.35, 0.05) if key == PERMANENT else 0.3))) for t in live],
        )
        w.series("node_memory_SwapTotal_bytes", labels, [(t, 2 * 1024**3 if key == PERMANENT else 0) for t in live])
        # The permanent node swaps a little during run 1 (memory pressure, as the alert expects).
        w.series(
            "node_memory_SwapFree_bytes",
            labels,
            [(t, (2 * 1024**3 - (50 * 1024**2 if 150 <= t < 160 else 0)) if key == PERMANENT else 0) for t in live],
        )
        w.series("node_filefd_allocated", labels, [(t, wave(t, 3500, 400)) for t in live])
        w.series("node_filefd_maximum", labels, [(t, 1048576) for t in live])
        w.series("up", labels, [(t, 1) for t in live])

    # ---- kube-state-metrics
    ksm = {"job": "kube-state-metrics", "instance": "10.32.1.10:8080"}
    for node, (created, gone, _cpus, _memory) in nodes.items():
        live = [t for t in ticks if alive(t, created, gone)]
        info = {
            **ksm,
            "node": node,
            "internal_ip": f"172.16.16.{20 + len(node) % 50}",
            "kernel_version": "6.8.0",
            "kubelet_version": "v1.33.4",
            "os_image": "Ubuntu 24.04 LTS",
        }
        w.series("kube_node_info", info, [(t, 1) for t in live])
        w.series("kube_node_created", {**ksm, "node": node}, [(t, start + max(created, -3000) * 60) for t in live])
        for status in ("true", "false", "unknown"):
            ready_at = created + 1
            w.series(
                "kube_node_status_condition",
                {**ksm, "node": node, "condition": "Ready", "status": status},
                [(t, 1 if (status == "true") == (t >= ready_at) and status != "unknown" else 0) for t in live],
            )
    for p in pods:
        live = [t for t in ticks if alive(t, p.start, p.end)]
        ident = {**ksm, "namespace": p.namespace, "pod": p.name, "uid": f"uid-{p.name}"}
        cont = {**ident, "container": p.container}
        pod_running = lambda t, p=p: p.running_from is None or t >= p.running_from  # noqa: E731
        w.series("kube_pod_info", {**ident, "node": p.node, "created_by_kind": "ReplicaSet"}, [(t, 1) for t in live])
        w.series("kube_pod_created", ident, [(t, start + max(p.start, -3000) * 60) for t in live])
        for phase in ("Pending", "Running", "Succeeded", "Failed"):
            w.series(
                "kube_pod_status_phase",
                {**ident, "phase": phase},
                [(t, 1 if phase == ("Running" if pod_running(t) else "Pending") else 0) for t in live],
            )
        w.series("kube_pod_container_status_running", cont, [(t, 1 if pod_running(t) else 0) for t in live])
        w.series(
            "kube_pod_container_status_restarts_total",
            cont,
            [(t, sum(1 for m, _ in p.restarts_at if t >= m)) for t in live],
        )
        for minute, reason in p.restarts_at:
            w.series(
                "kube_pod_container_status_last_terminated_reason",
                {**cont, "reason": reason},
                [(t, 1) for t in live if t >= minute],
            )
        for resource, req, lim, unit in (
            ("cpu", p.cpu_request, p.cpu_limit, "core"),
            ("memory", p.mem_request, p.mem_limit, "byte"),
        ):
            w.series(
                "kube_pod_container_resource_requests",
                {**cont, "node": p.node, "resource": resource, "unit": unit},
                [(t, req) for t in live],
            )
            w.series(
                "kube_pod_container_resource_limits",
                {**cont, "node": p.node, "resource": resource, "unit": unit},
                [(t, lim) for t in live],
            )
    w.series("up", ksm, [(t, 1) for t in ticks])

    # ---- cAdvisor, through the kubelet
    kubelet = {"job": "kubelet", "metrics_path": "/metrics/cadvisor"}
    for p in pods:
        live = [t for t in ticks if alive(t, p.start, p.end) and (p.running_from is None or t >= p.running_from)]
        cont = {
            **kubelet,
            "instance": p.node,
            "node": p.node,
            "namespace": p.namespace,
            "pod": p.name,
            "container": p.container,
            "image": f"registry.example.com/{p.container}:1",
            "id": f"/kubepods/{p.name}",
        }
        for name, per_second in container_counters(p).items():
            total, points = 0.0, []
            for t in live:
                total += STEP * per_second(t)
                points.append((t, total))
            w.series(name, cont, points)
        w.series(
            "container_memory_working_set_bytes", cont, [(t, p.mem_use * (1 + 0.05 * math.sin(t / 11))) for t in live]
        )
        pod_level = {**kubelet, "instance": p.node, "namespace": p.namespace, "pod": p.name, "interface": "eth0"}
        for name, rate in (
            ("container_network_receive_bytes_total", p.rx),
            ("container_network_transmit_bytes_total", p.rx / 3),
        ):
            total, points = 0.0, []
            for t in live:
                total += STEP * rate
                points.append((t, total))
            w.series(name, pod_level, points)
    for node, (created, gone, _, _) in nodes.items():
        w.series("up", {"job": "kubelet", "instance": node}, [(t, 1) for t in ticks if alive(t, created, gone)])

    # ---- kubelet volume stats
    for claim, gib, used in (
        ("prometheus-kube-prometheus-stack-prometheus-db-prometheus-0", 50, 0.12),
        ("storage-loki-0", 10, 0.35),
        ("kube-prometheus-stack-grafana", 10, 0.05),
        ("alertmanager-kube-prometheus-stack-alertmanager-db-0", 2, 0.02),
    ):
        labels = {"job": "kubelet", "instance": PERMANENT, "namespace": "monitoring", "persistentvolumeclaim": claim}
        w.series("kubelet_volume_stats_capacity_bytes", labels, [(t, gib * 1024**3) for t in ticks])
        w.series(
            "kubelet_volume_stats_used_bytes",
            labels,
            [(t, gib * 1024**3 * (used + 0.03 * t / ticks[-1])) for t in ticks],
        )

    # ---- control plane and DNS scrape health
    for job, instance in (
        ("apiserver", "10.32.0.1:6443"),
        ("coredns", "10.32.2.5:9153"),
        ("coredns", "10.32.2.6:9153"),
    ):
        w.series(
            "up",
            {"job": job, "instance": instance},
            [(t, 0 if job == "coredns" and 600 <= t < 601 else 1) for t in ticks],
        )

    # ---- blackbox probes of the external APIs
    for url, dns in (
        ("https://api.binance.com/api/v3/ping", 0.018),
        ("https://cloud.langfuse.com", 0.032),
        ("https://s3.fr-par.scw.cloud", 0.006),
    ):
        labels = {"job": "blackbox-exporter", "instance": url}
        w.series("probe_dns_lookup_time_seconds", labels, [(t, dns * rng.uniform(0.6, 1.8)) for t in ticks])
        w.series("probe_success", labels, [(t, 1) for t in ticks])

    # ---- cert-manager
    for name, days in (("grafana-tls", 61), ("api-tls", 23)):
        labels = {
            "job": "cert-manager",
            "name": name,
            "namespace": "monitoring",
            "issuer_name": "letsencrypt",
            "issuer_kind": "ClusterIssuer",
            "issuer_group": "cert-manager.io",
        }
        w.series(
            "certmanager_certificate_expiration_timestamp_seconds", labels, [(t, end + days * 86400) for t in ticks]
        )

    # ---- postgres-exporter
    pg = {"job": "postgres-exporter", "instance": "mlops-db:5432", "namespace": "monitoring"}
    for state, sessions in (("active", 12), ("idle", 6), ("idle in transaction", 1)):
        w.series(
            "pg_stat_activity_count",
            {
                **pg,
                "datname": "mlops",
                "state": state,
                "usename": "airflow",
                "application_name": "airflow",
                "backend_type": "client backend",
                "wait_event_type": "",
                "wait_event": "",
            },
            [
                (t, round(sessions + (10 if 124 <= t < 300 and state == "active" else 0) + rng.uniform(-2, 2)))
                for t in ticks
            ],
        )
    w.series("pg_settings_max_connections", pg, [(t, 50) for t in ticks])

    # ---- Traefik, per service
    buckets = [0.1, 0.3, 1.2, 5.0]  # Traefik's defaults (metrics.prometheus.buckets; the chart leaves them)
    for service, rps, latency in (
        ("hft-services-api-8080@kubernetes", 20, 0.03),
        ("airflow-airflow-webserver-8080@kubernetes", 3, 0.08),
        ("ml-mlflow-5000@kubernetes", 1, 0.05),
    ):
        base: dict[str, str] = {
            "job": "traefik",
            "instance": "10.32.3.4:9100",
            "service": service,
            "method": "GET",
            "protocol": "http",
        }
        for code, share in (("200", 0.97), ("404", 0.025), ("500", 0.005)):
            total, points = 0.0, []
            for t in ticks:
                spike = 8 if code == "500" and 450 <= t < 460 else 1
                total += STEP * rps * share * spike
                points.append((t, total))
            w.series("traefik_service_requests_total", {**base, "code": code}, points)
        cumulative = dict.fromkeys(buckets + [math.inf], 0.0)
        series_points: dict[float, list[tuple[float, float]]] = {le: [] for le in cumulative}
        sum_points, count_points, s_total = [], [], 0.0
        for t in ticks:
            n = STEP * rps
            for le in cumulative:
                cumulative[le] += n * (1 - math.exp(-le / latency)) if le != math.inf else n
                series_points[le].append((t, cumulative[le]))
            s_total += n * latency
            sum_points.append((t, s_total))
            count_points.append((t, cumulative[math.inf]))
        for le, points in series_points.items():
            w.series(
                "traefik_service_request_duration_seconds_bucket",
                {**base, "code": "200", "le": "+Inf" if le == math.inf else f"{le:g}"},
                points,
            )
        w.series("traefik_service_request_duration_seconds_sum", {**base, "code": "200"}, sum_points)
        w.series("traefik_service_request_duration_seconds_count", {**base, "code": "200"}, count_points)

    # ---- Airflow through the statsd exporter
    sd = {"job": "statsd-exporter", "instance": "statsd-exporter:9102"}
    w.series("airflow_scheduler_heartbeat", sd, [(t, int(t * 60 / 5)) for t in ticks])
    w.series("airflow_dag_processing_total_parse_time", sd, [(t, wave(t, 2.4, 0.6, 90)) for t in ticks])
    failures, points = 0, []
    for t in ticks:
        failures += 1 if t in (200.0, 401.0) else 0
        points.append((t, failures))
    w.series("airflow_ti_failures", sd, points)

    def run(t: float) -> bool:
        return 124 <= t < 300 or t >= minutes - 1

    def queued(t: float) -> bool:
        return 120 <= t < 124 or minutes - 4 <= t < minutes - 1

    for pool, total_slots in (("default_pool", 16), ("finetune_pool", 5)):
        running: Callable[[float], int] = (
            (lambda t: 5 if run(t) else 0) if pool == "finetune_pool" else (lambda t: 3 + int(wave(t, 2, 2)))
        )
        queue: Callable[[float], int] = (lambda t: 5 if queued(t) else 0) if pool == "finetune_pool" else (lambda t: 0)
        w.series("airflow_pool_running_slots", {**sd, "pool": pool}, [(t, running(t)) for t in ticks])
        w.series("airflow_pool_queued_slots", {**sd, "pool": pool}, [(t, queue(t)) for t in ticks])
        w.series("airflow_pool_open_slots", {**sd, "pool": pool}, [(t, total_slots - running(t)) for t in ticks])
    scale = ScaleOut(w, len(ticks), size).write() if size > 0 else {}
    files = w.close()
    return {
        "series": w.series_count,
        "samples": w.sample_count,
        "start": start,
        "end": start + minutes * 60,
        "files": files,
        **scale,
    }


# ---------------------------------------------------------------- the server
