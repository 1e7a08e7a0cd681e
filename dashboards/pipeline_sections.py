"""Sections 9 to 11: Airflow health, model performance drift, the alert log and diagnostics."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import (
    gauge,
    table,
    timeseries,
)
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DynamicConfigValue,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards.panels import (
    POSTGRES,
    PROMETHEUS,
    SqlQuery,
    at,
    prom,
    series,
    stat_panel,
    thresholds,
)


def airflow_health(y: int) -> list:
    """9. Is the orchestrator healthy?  Queues, failed tasks."""
    slots = lambda kind: f"sum(airflow_pool_{kind}_slots)"  # noqa: E731
    return [
        stat_panel(
            "Scheduler Heartbeat",
            "Seconds since the scheduler heartbeat counter last moved "
            "(within the last 10 min). < 30 s green, > 60 s red.",
            "s",
            prom(
                "time() - max(max_over_time(timestamp(changes(airflow_scheduler_heartbeat[1m]) > 0)[10m:30s]))",
                instant=True,
            ),
            [(None, "green"), (30, "yellow"), (60, "red")],
            at(0, y, 4, 8),
        ),
        stat_panel(
            "DAG Parse Time",
            "Total DAG parse time of the last parsing loop. < 5 s green, > 10 s red.",
            "s",
            prom("max(airflow_dag_processing_total_parse_time)", instant=True),
            [(None, "green"), (5, "yellow"), (10, "red")],
            at(4, y, 4, 8),
        ),
        stat_panel(
            "Queue Depth",
            "Queued task slots, all pools. 0 green, > 5 red.",
            "none",
            prom(slots("queued"), instant=True),
            [(None, "green"), (1, "yellow"), (5, "red")],
            at(8, y, 4, 8),
        ),
        (
            table.Panel()
            .title("Failed Tasks (24h)")
            .description("Task-instance failures over the last 24 hours (statsd ti_failures). Target: 0.")
            .unit("short")
            .datasource(PROMETHEUS)
            .grid_pos(at(12, y, 12, 8))
            .with_target(
                prom("sum(increase(airflow_ti_failures[24h])) or vector(0)", "failures", instant=True).format(
                    PromQueryFormat.TABLE
                )
            )
        ),
        series(
            "Task States Over Time",
            "Pool slots: running (green), queued (yellow), open (blue).",
            "short",
            at(0, y + 8, 12, 8),
            prom(slots("running"), "running", "A"),
            prom(slots("queued"), "queued", "B"),
            prom(slots("open"), "open", "C"),
            stacked=True,
            fill=40,
        )
        .override_by_name("running", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "green"})])
        .override_by_name("queued", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "yellow"})])
        .override_by_name("open", [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "blue"})]),
        (
            gauge.Panel()
            .title("Worker Utilization")
            .description("Running / (running + open) slots. Target 60-90%; < 30% over-provisioned, > 95% saturated.")
            .unit("percent")
            .datasource(PROMETHEUS)
            .min(0)
            .max(100)
            .grid_pos(at(12, y + 8, 12, 8))
            .with_target(prom(f"100 * {slots('running')} / ({slots('running')} + {slots('open')})", instant=True))
            .thresholds(thresholds((None, "blue"), (30, "yellow"), (60, "green"), (90, "yellow"), (95, "red")))
        ),
    ]


RUNS = (
    "SELECT run_id, MAX(created_at) AS finished, AVG(f1_macro) AS f1, AVG(action_rate) AS action_rate, "
    "AVG(cusum_block_rate) AS cusum_block_rate, AVG(n_train_samples) AS n_train_samples "
    "FROM finetune_results GROUP BY run_id"
)


def drift_queries() -> dict[str, list[str]]:
    """The SQL of every drift panel (also run by the tests on a real PostgreSQL)."""
    per_run = lambda col, alias, scale="": (  # noqa: E731
        f'SELECT finished AS "time", {col}{scale} AS "{alias}" FROM ({RUNS}) runs '
        f"WHERE $__timeFilter(finished) ORDER BY 1"
    )
    return {
        "F1 Macro Trend": [
            per_run("f1", "f1_macro"),
            f"SELECT finished AS \"time\", AVG(f1) OVER (ORDER BY finished RANGE BETWEEN INTERVAL '7 days' "
            f'PRECEDING AND CURRENT ROW) AS "7d moving average" FROM ({RUNS}) runs '
            f"WHERE $__timeFilter(finished) ORDER BY 1",
        ],
        "Sortino Trend": [
            'SELECT MAX(created_at) AS "time", crypto AS metric, AVG(sortino) AS value FROM finetune_results '
            "WHERE cost_bps = 15 AND $__timeFilter(created_at) GROUP BY run_id, crypto ORDER BY 1",
        ],
        "Action Rate Drift": [per_run("action_rate", "BUY share", " * 100")],
        "CUSUM Filter Rate": [per_run("cusum_block_rate", "filtered", " * 100")],
        "Training Sample Trend": [per_run("n_train_samples", "n_train_samples")],
    }


def performance_drift(y: int) -> list:
    """10. Is the ML pipeline degrading?  PostgreSQL finetune_results, 30 days."""
    texts = {
        "F1 Macro Trend": (
            "Mean f1_macro per run and its 7-day moving average. Alert: > 10% below the 7-day "
            "average (Grafana-managed F1Drift).",
            "percentunit",
            at(0, y, 12, 8),
        ),
        "Sortino Trend": (
            "Mean Sortino per crypto per run, at 15 bps cost. A crypto always low is a candidate for exclusion.",
            "none",
            at(12, y, 12, 8),
        ),
        "Action Rate Drift": (
            "% of candles where the model predicts BUY. Up = more permissive, down = more "
            "conservative. Alert on > 20% change from baseline.",
            "percent",
            at(0, y + 8, 12, 8),
        ),
        "CUSUM Filter Rate": (
            "% of candles filtered by CUSUM before inference. ~95% is normal; a drop = CUSUM "
            "relaxing, a spike = market regime shift.",
            "percent",
            at(12, y + 8, 12, 8),
        ),
        "Training Sample Trend": (
            "n_train_samples per run: stable ~27K for a 12-month window. A drop = data "
            "pipeline, missing OHLCV, Binance API problem.",
            "short",
            at(0, y + 16, 24, 8),
        ),
    }
    panels = []
    for title, queries in drift_queries().items():
        description, unit, pos = texts[title]
        panel = (
            timeseries.Panel()
            .title(title)
            .description(description)
            .unit(unit)
            .datasource(POSTGRES)
            .grid_pos(pos)
            .time_from("30d")
            .show_points(common.VisibilityMode.ALWAYS)
            .line_width(1)
        )
        for ref, sql in zip("ABC", queries, strict=False):
            panel = panel.with_target(SqlQuery(ref, sql))
        if title == "F1 Macro Trend":
            panel = panel.override_by_name(
                "7d moving average", [DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]
            )
        panels.append(panel)
    return panels


def alert_log(y: int, runbook_base_url: str) -> list:
    """11. What went wrong, when, and what to do: every alert links its runbook."""
    alerts = 'ALERTS{alertstate="firing", alertname!~"Watchdog|InfoInhibitor"}'
    history = (
        table.Panel()
        .title("Alert History")
        .description("Alerts that fired in the range, newest first: severity, alert, target, runbook (click to open).")
        .unit("none")
        .datasource(PROMETHEUS)
        .grid_pos(at(0, y, 24, 8))
        .with_target(
            prom(
                f"max by (alertname, severity, runbook, namespace, pod, node, instance) "
                f"(max_over_time({alerts}[$__range]) * timestamp(max_over_time({alerts}[$__range])))",
                "",
                instant=True,
            ).format(PromQueryFormat.TABLE)
        )
        .override_by_name(
            "runbook",
            [
                DynamicConfigValue(
                    "links",
                    [{"title": "Open runbook", "url": f"{runbook_base_url}/${{__value.raw}}.md", "targetBlank": True}],
                )
            ],
        )
        .override_by_name(
            "Value", [DynamicConfigValue("displayName", "Last seen"), DynamicConfigValue("unit", "dateTimeAsIso")]
        )
        .sort_by([cb.TableSortByFieldState().display_name("Last seen").desc(True)])
    )
    return [
        history,
        stat_panel(
            "Active Alerts",
            "Critical and warning alerts firing now.",
            "none",
            prom('count(ALERTS{alertstate="firing", severity=~"critical|warning"}) or vector(0)', instant=True),
            [(None, "green"), (1, "red")],
            at(0, y + 8, 12, 8),
        ),
        stat_panel(
            "Alerts Last 24h",
            "Distinct critical, warning and info alerts that fired in 24 hours.",
            "none",
            prom(
                'count(count_over_time(ALERTS{alertstate="firing", severity=~"critical|warning|info"}[24h])) '
                "or vector(0)",
                instant=True,
            ),
            [(None, "green"), (1, "yellow")],
            at(12, y + 8, 12, 8),
        ),
    ]
