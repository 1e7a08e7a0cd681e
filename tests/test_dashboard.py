"""The infrastructure dashboard: its structure, and every query on real servers — Prometheus
over 12 hours of a synthetic cluster, PostgreSQL with the finetune_results schema."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml
from test_rules import reference_metrics

from bench.synthetic_prometheus import SyntheticPrometheus, chart_recording_rules
from components.alerting import rules as alerting
from conftest import ROOT
from dashboards import infrastructure

GRAFANA_VARIABLES = {"$__rate_interval": "2m", "$__range": "12h", "$__interval": "60s"}


def panels(board: dict) -> list[dict]:
    return [p for p in board["panels"] if p["type"] != "row"]


def prometheus_queries(board: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in panels(board) for t in p["targets"] if "expr" in t]


def substitute(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


@pytest.fixture(scope="module")
def board(prod) -> dict:
    [resource] = prod.of_type("grafana:oss/dashboard:Dashboard")
    return json.loads(resource.inputs["configJson"])


# ---------------------------------------------------------------- structure


def test_eleven_sections_and_at_least_35_panels(board):
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert [r.split(" ", 1)[0] for r in rows] == [str(i) for i in range(1, 12)]
    assert len(panels(board)) >= 35


def test_every_panel_has_title_description_unit_datasource_and_a_query(board):
    for panel in panels(board):
        assert panel.get("title"), panel
        assert panel.get("description"), panel["title"]
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel.get("datasource", {}).get("uid") in ("${datasource}", "${postgres}"), panel["title"]
        assert panel.get("targets"), panel["title"]
        for target in panel["targets"]:
            assert target.get("expr") or target.get("rawSql"), panel["title"]
            assert target["refId"], panel["title"]


def test_default_range_uid_tags_and_data_source_variable(board):
    assert board["uid"] == infrastructure.UID and board["time"] == {"from": "now-12h", "to": "now"}
    assert "trading-platform" in board["tags"]
    variable = next(v for v in board["templating"]["list"] if v["name"] == "datasource")
    assert variable["type"] == "datasource" and variable["label"] == "Data source" and variable["query"] == "prometheus"


def test_panels_do_not_overlap(board):
    taken: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        g = panel["gridPos"]
        cells = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & taken, panel["title"]
        assert g["x"] + g["w"] <= 24
        taken |= cells


def test_rates_use_rate_interval_and_counters_stay_inside_rate_or_increase(board):
    for title, expr in prometheus_queries(board):
        for window in re.findall(r"\b(?:rate|irate)\([^()]*\[([^\]]+)\]", expr):
            assert window == "$__rate_interval", (title, expr)
        bare = re.sub(r"(rate|increase)\((?:[^()]|\([^()]*\))*\)", "", expr)
        assert not re.search(r"[a-z_:]+_total\b", bare), (title, expr)


def test_drift_panels_query_postgres_and_the_rest_prometheus(board):
    for panel in panels(board):
        section_10 = panel["title"] in infrastructure.drift_queries()
        assert (panel["datasource"]["uid"] == "${postgres}") == section_10, panel["title"]


def test_info_alerts_are_annotations_and_the_alert_log_links_runbooks(board, prod):
    [annotation] = [a for a in board["annotations"]["list"] if a.get("name") == "Info alerts"]
    assert 'severity="info"' in annotation["expr"]
    history = next(p for p in panels(board) if p["title"] == "Alert History")
    override = next(o for o in history["fieldConfig"]["overrides"] if o["matcher"]["options"] == "runbook")
    [link] = override["properties"][0]["value"]
    assert link["url"] == prod.config.alerting.runbook_base_url + "/${__value.raw}.md"


def test_cost_stat_uses_the_stack_price_table(board, prod):
    cost = next(p for p in panels(board) if p["title"] == "Cost EUR/h")
    price = prod.outputs["estimated_cost_eur_per_hour"]
    assert f"* {price['compute_per_active_node']}" in cost["targets"][0]["expr"]
    assert f"+ {price['idle']}" in cost["targets"][0]["expr"]


def test_render_writes_the_dashboard_json(tmp_path, prod):
    from offline import render

    render.write(prod, tmp_path)
    written = json.loads((tmp_path / "dashboards" / f"{infrastructure.UID}.json").read_text())
    assert written["uid"] == infrastructure.UID and len(panels(written)) >= 35


# ---------------------------------------------------------------- real servers


@pytest.fixture(scope="module")
def synthetic_prometheus(deployed, tmp_path_factory):
    """Our rules and the chart's recording groups the dashboard reads, as Helm renders them."""
    chart_rules = chart_recording_rules([o for _, o in deployed["prod"]], tmp_path_factory.mktemp("chart-rules"))
    # The spec's small cluster with the production profile at a twentieth of its size
    # (bench/production_cluster.py): the same generator and label shapes as the benchmark's.
    with SyntheticPrometheus([*alerting.rule_files(), chart_rules], size=0.05) as server:
        server.wait_for_rule_evaluation()
        yield server


def test_the_production_profile_serves_only_families_the_real_exporters_have(reference):
    """Every family the production profile adds (bench/production_families.yaml) is in the
    exporter's reference list (../shared/reference/metrics/)."""
    world = yaml.safe_load((ROOT / "bench" / "production_families.yaml").read_text())

    cadvisor, ksm, node = (reference_metrics(reference, e) for e in ("cadvisor", "kube-state-metrics", "node-exporter"))
    network = {f"container_network_{name}" for name in world["network_steady"]}
    assert set(world["cadvisor_steady"]) | network <= cadvisor, (set(world["cadvisor_steady"]) | network) - cadvisor
    assert set(world["ksm_pod_steady"]) | set(world["ksm_container_steady"]) <= ksm
    assert set(world["node_steady"]) <= node, set(world["node_steady"]) - node


def test_every_prometheus_query_returns_data_over_12_hours(board, synthetic_prometheus):
    end = time.time()
    empty, failed = [], []
    for title, expr in prometheus_queries(board):
        response = synthetic_prometheus.query(
            "query_range", query=substitute(expr), start=end - 12 * 3600, end=end, step=60
        )
        if response["status"] != "success":
            failed.append((title, expr, response))
        elif not response["data"]["result"]:
            empty.append((title, expr))
    assert not failed, failed
    assert not empty, f"{len(empty)} queries returned no data: {empty}"


def test_no_timeseries_panel_draws_a_line_per_pod_of_the_cluster(board, synthetic_prometheus):
    """At production size a per-pod line for every pod is 800 lines in a half-width panel (and the
    slowest query of the load).  On the twentieth-size production profile (75 pods over the 12
    hours, 15 of them fine-tuning pods) no time series target may return more series than the
    fine-tuning pods: the panels that draw per pod draw the fine-tuning runs only."""
    end = time.time()
    crowded = []
    for panel in panels(board):
        for target in panel["targets"] if panel["type"] == "timeseries" else []:
            if "expr" not in target:
                continue
            query = substitute(target["expr"])
            result = synthetic_prometheus.query("query_range", query=query, start=end - 12 * 3600, end=end, step=60)[
                "data"
            ]["result"]
            if len(result) > 20:
                crowded.append((panel["title"], query, len(result)))
    assert not crowded, crowded


def test_the_info_annotation_query_returns_the_runs_events(board, synthetic_prometheus):
    [annotation] = [a for a in board["annotations"]["list"] if a.get("name") == "Info alerts"]
    result = synthetic_prometheus.query("query", query=annotation["expr"])["data"]["result"]
    # The run's events fire only while they are recent: say how far the data's end is behind.
    behind = time.time() - synthetic_prometheus.figures["end"]
    found = {r["metric"]["alertname"] for r in result}
    assert found >= {"ComputeScaleUp", "FineTuneRunStarted"}, f"{found}, data ends {behind:.0f} s ago"


def test_every_drift_query_returns_rows_in_postgres(postgres):
    postgres("DROP DATABASE IF EXISTS dashboard")
    postgres("CREATE DATABASE dashboard")
    postgres((ROOT / "rules" / "grafana" / "finetune_results.schema.sql").read_text(), "dashboard")
    rows = []
    for day in range(30):
        for crypto in ("UNIUSDC", "OPUSDC", "AAVEUSDC"):
            for cost in (5, 15):
                rows.append(
                    f"('run-{day:02d}', '{crypto}', {cost}, {0.55 + day * 0.002}, "
                    f"{0.4 if crypto == 'AAVEUSDC' else 1.3}, 0.31, 0.95, 27000, "
                    f"now() - interval '{30 - day} days')"
                )
    postgres(
        "INSERT INTO finetune_results (run_id, crypto, cost_bps, f1_macro, sortino, action_rate, "
        "cusum_block_rate, n_train_samples, created_at) VALUES " + ", ".join(rows),
        "dashboard",
    )
    window = "{0} BETWEEN now() - interval '30 days' AND now()"
    for title, queries in infrastructure.drift_queries().items():
        for sql in queries:
            sql = re.sub(r"\$__timeFilter\((\w+)\)", lambda m: window.format(m.group(1)), sql)
            result = postgres(sql, "dashboard")
            assert result, (title, sql)
            assert len(result[0]) >= 2, (title, result[0])
