"""The pods of the synthetic cluster: fine-tuning runs that come and go, and the always-on services."""

from __future__ import annotations

from dataclasses import dataclass, field

STEP = 30  # seconds between samples (kube-prometheus-stack's scrape interval)
HOURS = 12
PERMANENT = "scw-trading-prod-permanent-4f1c"
COMPUTE_A = "scw-trading-prod-compute-9a0b"
COMPUTE_B = "scw-trading-prod-compute-2c7d"
HOSTS = {"market-data": "172.16.16.12", "strategy": "172.16.16.13", "order-management": "172.16.16.14"}


@dataclass
class Pod:
    namespace: str
    name: str
    container: str
    node: str
    start: int  # minute the pod is created
    end: int  # minute it is gone (exclusive)
    cpu_request: float
    cpu_limit: float
    mem_request: float  # bytes
    mem_limit: float
    cpu_use: float  # cores while running
    mem_use: float  # bytes while running
    running_from: int | None = None
    restarts_at: list = field(default_factory=list)  # (minute, reason)
    throttle: float = 0.0  # share of CFS periods throttled
    fs_write: float = 0.0  # bytes/s
    rx: float = 2e4  # bytes/s


def scenario(minutes: int) -> list[Pod]:
    gi, mi = 1024**3, 1024**2
    always = minutes + 1
    pods = [
        Pod(
            "airflow",
            "airflow-scheduler-0",
            "scheduler",
            PERMANENT,
            0,
            always,
            0.5,
            1,
            1 * gi,
            2 * gi,
            0.4,
            0.6 * gi,
            restarts_at=[(400, "Error")],
            throttle=0.05,
        ),
        Pod(
            "airflow",
            "airflow-webserver-7d9f",
            "webserver",
            PERMANENT,
            0,
            always,
            0.25,
            0.5,
            512 * mi,
            1 * gi,
            0.1,
            380 * mi,
        ),
        Pod("airflow", "airflow-worker-0", "worker", PERMANENT, 0, always, 0.5, 1, 1 * gi, 2 * gi, 0.3, 700 * mi),
        Pod("ml", "mlflow-6d5f", "mlflow", PERMANENT, 0, always, 0.25, 0.5, 512 * mi, 1 * gi, 0.01, 726 * mi),
        Pod("hft-services", "api-5c8b", "api", PERMANENT, 0, always, 0.5, 1, 512 * mi, 1 * gi, 0.35, 300 * mi),
        Pod(
            "monitoring",
            "prometheus-kube-prometheus-stack-prometheus-0",
            "prometheus",
            PERMANENT,
            0,
            always,
            1,
            2,
            4 * gi,
            8 * gi,
            0.6,
            2.5 * gi,
        ),
        Pod("monitoring", "loki-0", "loki", PERMANENT, 0, always, 0.5, 1.5, 1 * gi, 2 * gi, 0.2, 700 * mi),
    ]
    # Run 1: pods created at 2h, the compute node at 2h02, running 2h04 to 5h; node gone at 5h15.
    for i in range(1, 6):
        pods.append(
            Pod(
                "ml",
                f"finetune-pte-r1-{i}",
                "trainer",
                COMPUTE_A,
                120,
                305,
                2,
                4,
                4 * gi,
                8 * gi,
                3.2 - 0.1 * i,
                (1.0 + 0.05 * i) * gi,
                running_from=124,
                restarts_at=[(200, "OOMKilled")] if i == 3 else [],
                throttle=0.35 + 0.03 * i,
                fs_write=8e5,
                rx=3e5,
            )
        )
    # Run 2: pods created 4 min before the end, the node 2 min before, running for the last
    # minute (so ComputeScaleUp and FineTuneRunStarted fire when the server starts).
    for i in range(1, 6):
        pods.append(
            Pod(
                "ml",
                f"finetune-pte-r2-{i}",
                "trainer",
                COMPUTE_B,
                minutes - 4,
                always,
                2,
                4,
                4 * gi,
                8 * gi,
                3.0,
                1.1 * gi,
                running_from=minutes - 1,
                throttle=0.3,
                fs_write=5e5,
                rx=3e5,
            )
        )
    return pods
