"""The infrastructure dashboard of spec 003: 11 sections, one function each.

Built with grafana-foundation-sdk (Grafana 11.6 build).  Conventions, as Grafana's
dashboard linter wants them: a ``datasource`` variable labelled "Data source" that every
Prometheus panel uses, ``$__rate_interval`` in every rate, counters only inside
``rate``/``increase``, a unit and a description on every panel.  Anything expensive over 12
hours reads a recording rule of ``rules/recording.yaml`` (bench/dashboard_load.py measures
the dashboard with and without them).
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DashboardCursorSync, VariableOption

from dashboards.cluster_sections import (
    autoscaler_and_latency,
    ftf_parallel_execution,
    health_status_bar,
    resource_efficiency,
    twelve_hour_timeline,
)
from dashboards.panels import TITLE, UID, CostModel, at
from dashboards.pipeline_sections import airflow_health, alert_log, drift_queries, performance_drift
from dashboards.workload_sections import application_health, process_sizing, swap_and_system_health

__all__ = ["UID", "CostModel", "build", "drift_queries"]


# (row title, section, height of its panels); rows stack top-down in this order.
SECTIONS = [
    ("1 Health Status Bar", lambda y, c, r: health_status_bar(y, c), 3),
    ("2 12-Hour Timeline", lambda y, c, r: twelve_hour_timeline(y), 16),
    ("3 Resource Efficiency", lambda y, c, r: resource_efficiency(y), 16),
    ("4 FTF Parallel Execution", lambda y, c, r: ftf_parallel_execution(y), 20),
    ("5 Autoscaler & Latency", lambda y, c, r: autoscaler_and_latency(y), 6),
    ("6 Swap & System Health", lambda y, c, r: swap_and_system_health(y), 12),
    ("7 Process Sizing", lambda y, c, r: process_sizing(y), 6),
    ("8 Application Health", lambda y, c, r: application_health(y), 24),
    ("9 Airflow Health", lambda y, c, r: airflow_health(y), 16),
    ("10 Performance Drift Indicators", lambda y, c, r: performance_drift(y), 24),
    ("11 Alert Log & Diagnostics", lambda y, c, r: alert_log(y, r), 16),
]


def build(cost: CostModel, runbook_base_url: str) -> dict:
    """The dashboard's JSON model."""
    board = (
        db.Dashboard(TITLE)
        .uid(UID)
        .tags(["trading-platform", "infrastructure", "spec-003"])
        .description("Glance (5 s), scan (30 s), investigate (2 min), act: spec 003 V2.")
        .time("now-12h", "now")
        .refresh("1m")
        .timezone("utc")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .editable()
        .with_variable(
            db.DatasourceVariable("datasource")
            .label("Data source")
            .type("prometheus")
            .current(VariableOption(text="Prometheus", value="prometheus", selected=True))
        )
        .with_variable(
            db.DatasourceVariable("postgres")
            .label("PostgreSQL")
            .type("grafana-postgresql-datasource")
            .current(VariableOption(text="finetune_results (PostgreSQL)", value="trading-postgres", selected=True))
        )
    )
    y = 0
    for title, section, height in SECTIONS:
        board = board.with_row(db.Row(title).grid_pos(at(0, y, 24, 1)))
        for panel in section(y + 1, cost, runbook_base_url):
            board = board.with_panel(panel)
        y += 1 + height
    model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    # Info alerts as annotations on every time series (the SDK's AnnotationQuery has no
    # Prometheus fields, so they are added to the model here).
    model.setdefault("annotations", {}).setdefault("list", []).append(
        {
            "name": "Info alerts",
            "enable": True,
            "iconColor": "blue",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "expr": 'ALERTS{severity="info", alertstate="firing"}',
            "step": "60s",
            "titleFormat": "{{alertname}}",
            "textFormat": "{{node}}{{pod}}",
            "tagKeys": "alertname,severity",
            "useValueForTime": False,
        }
    )
    return model
