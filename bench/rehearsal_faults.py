"""The faults of the live rehearsal (bench/rehearsal.py), what each must page, and the table
of what happened."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import rehearsal_exporters as stand_ins
from bench import rehearsal_parts as parts


@dataclass
class Expected:
    alert: str
    severity: str
    for_s: int
    onset_s: float  # when the spec's condition first holds, after the faults
    slack: float | None = None
    pagerduty: float | None = None
    resolved: float | None = None  # gone from Alertmanager's active alerts
    pagerduty_resolved: float | None = None

    @property
    def first_page(self) -> float | None:
        """PagerDuty for a critical, Slack for a warning (spec 003, escalation chain)."""
        return self.pagerduty if self.severity == "critical" else self.slack


@dataclass
class Fault:
    name: str
    alerts: list[Expected]
    inject: Callable[[], None]
    recover: Callable[[], None]
    tick: Callable[[float], None] | None = None  # called every second with the time since the faults
    recovered_at: float | None = None


@dataclass
class Outcome:
    faults: list[Fault]
    unexpected: set[str] = field(default_factory=set)
    heartbeats: int = 0
    refused: int = 0
    started_s: float = 0.0  # processes started, every target scraped twice, every group evaluated since
    live_s: float = 0.0

    @property
    def alerts(self) -> list[Expected]:
        return [a for f in self.faults for a in f.alerts]


def faults_of(
    cluster: stand_ins.Cluster, hosts: dict, postgres: parts.Postgres, site: parts.HttpsSite, for_s: dict[str, int]
) -> list[Fault]:
    def expect(alert: str, severity: str, onset: float = 0.0) -> Expected:
        return Expected(alert, severity, for_s[alert], onset)

    def set_volume(used: float) -> Callable[[], None]:
        def apply() -> None:
            cluster.volumes[0].used = used * cluster.volumes[0].capacity

        return apply

    def oom() -> None:
        c = cluster.container("finetune-run-20261124-x7q2m")
        c.terminated_reason, c.last_terminated_reason = "OOMKilled", "OOMKilled"
        c.restarts.add(1)

    def replace(old: str, new: stand_ins.Container) -> Callable[[], None]:
        def apply() -> None:
            with cluster.lock:
                cluster.containers.remove(cluster.container(old))
                cluster.containers.append(new)

        return apply

    def crash_loop(elapsed: float) -> None:
        """kubelet's back-off, 10 s doubling to 5 minutes: restarts at 0, 10, 30, 70, 150, 310 s."""
        with cluster.lock:
            crashing = next((c for c in cluster.containers if c.pod == "strategy-api-7d4b9-k2x8p"), None)
            if crashing is None:
                return
            crashing.waiting_reason = "CrashLoopBackOff"
            due = sum(1 for at in (0, 10, 30, 70, 150, 310, 610) if at <= elapsed)
            crashing.restarts.add(due - crashing.restarts.value())

    api_5xx = cluster.requests[("trading-api-8080@kubernetes", "500")]
    strategy_fixed = stand_ins.Container("trading", "strategy-api-7d4b9-q9w3z", "api", "5c1e")
    finetune_again = stand_ins.Container("ml", "finetune-run-20261124-b4n8r", "trainer", "9e2b")
    return [
        Fault(
            "market-data host's node-exporter stopped",
            [expect("CriticalPathHostDown", "critical")],
            hosts["market-data"].stop,
            hosts["market-data"].start,
        ),
        Fault(
            f"PostgreSQL: {postgres.MAX_CONNECTIONS - 3} connections held",
            [expect("DBConnectionSaturated", "critical")],
            lambda: postgres.open_sessions(postgres.MAX_CONNECTIONS - 3),
            postgres.close_sessions,
        ),
        Fault(
            "fine-tuning pod OOM-killed",
            [expect("ContainerOOMKilled", "critical")],
            oom,
            replace("finetune-run-20261124-x7q2m", finetune_again),
        ),
        # More than 3 restarts holds from the 4th, at 70 s.
        Fault(
            "strategy-api crash loop",
            [expect("PodCrashLooping", "critical", onset=70)],
            lambda: crash_loop(0),
            replace("strategy-api-7d4b9-k2x8p", strategy_fixed),
            tick=crash_loop,
        ),
        # The spec's conditions: heartbeat older than 60 s (warning) and 120 s (critical).
        Fault(
            "Airflow scheduler heartbeat stopped",
            [
                expect("AirflowSchedulerHeartbeatLate", "warning", onset=60),
                expect("AirflowSchedulerDown", "critical", onset=120),
            ],
            lambda: cluster.heartbeat.set_rate(0),
            lambda: cluster.heartbeat.set_rate(1 / 5),
        ),
        Fault(
            "Prometheus volume filled to 93%",
            [expect("PersistentVolumeFull", "critical")],
            set_volume(0.93),
            set_volume(0.70),
        ),
        Fault(
            "trading-api 5xx spike (30/min)",
            [expect("HTTP5xxSpike", "warning")],
            lambda: api_5xx.set_rate(0.5),
            lambda: api_5xx.set_rate(0),
        ),
        Fault(
            "served certificate 5 days from expiry",
            [expect("ServedCertificateExpiringSoon", "warning")],
            lambda: site.serve_certificate(5),
            lambda: site.serve_certificate(80),
        ),
    ]


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def table(outcome: Outcome) -> str:
    rows = [
        "| alert | severity | for | onset | first page | to page | minus for | resolved | PagerDuty resolved "
        "| receivers |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lags = []
    for a in outcome.alerts:
        to_page = None if a.first_page is None else a.first_page - a.onset_s
        if to_page is not None and a.severity == "critical":
            lags.append(to_page - a.for_s)
        receivers = receivers_ok(a)
        rows.append(
            f"| {a.alert} | {a.severity} | {a.for_s} | {_s(a.onset_s)} | {_s(a.first_page)} | {_s(to_page)} | "
            f"{_s(None if to_page is None else to_page - a.for_s)} | {_s(a.resolved)} | {_s(a.pagerduty_resolved)} | "
            f"{'as the spec says' if receivers else 'NOT as the spec says'} |"
        )
    lines = [
        "\n".join(rows),
        "",
        "(seconds after the faults were injected; onset: when the spec's condition first holds)",
    ]
    if lags:
        lines.append(
            f"critical time to page minus for: median {statistics.median(lags):.0f} s, worst {max(lags):.0f} s"
        )
    lines.append(
        f"dead man's switch: {outcome.heartbeats} heartbeats; events the sink refused: {outcome.refused}; "
        f"unexpected notifications: {', '.join(sorted(outcome.unexpected)) or 'none'}"
    )
    lines.append(f"start and baseline {outcome.started_s:.0f} s; live part {outcome.live_s:.0f} s")
    return "\n".join(lines)


def receivers_ok(a: Expected) -> bool:
    """Critical: PagerDuty and Slack; warning: Slack and never PagerDuty (spec 003, escalation chain)."""
    if a.severity == "critical":
        return a.pagerduty is not None and a.slack is not None
    return a.slack is not None and a.pagerduty is None
