"""The Grafana-managed F1 Drift alert: its SQL on a real PostgreSQL, and its declaration."""

from __future__ import annotations

import json

import pytest

from components.observability import grafana as grafana_objects
from conftest import ROOT

SCHEMA = (ROOT / "rules" / "grafana" / "finetune_results.schema.sql").read_text()


def load_runs(sql, database: str, f1_by_run: list[float], latest_hours_ago: int = 1) -> None:
    """One run a day back from now, two cryptos each; the last value is the newest run."""
    sql(f"DROP DATABASE IF EXISTS {database}")
    sql(f"CREATE DATABASE {database}")
    sql(SCHEMA, database)
    rows = []
    for age, f1 in enumerate(reversed(f1_by_run)):
        hours = latest_hours_ago + 24 * age
        for crypto, delta in (("UNIUSDC", 0.01), ("OPUSDC", -0.01)):
            rows.append(
                f"('run-{len(f1_by_run) - age:03d}', '{crypto}', 15, {f1 + delta}, 1.2, 0.3, 0.95, 27000, "
                f"now() - interval '{hours} hours')"
            )
    sql(
        "INSERT INTO finetune_results (run_id, crypto, cost_bps, f1_macro, sortino, action_rate, "
        "cusum_block_rate, n_train_samples, created_at) VALUES " + ", ".join(rows),
        database,
    )


def drop_ratio(sql, database: str) -> float:
    [[value]] = sql(grafana_objects.f1_drift_sql(), database)
    return float(value)


def test_drift_fires_when_the_latest_run_is_over_10_percent_below_its_week(postgres):
    load_runs(postgres, "drifted", [0.60, 0.62, 0.58, 0.60, 0.60, 0.50])
    assert drop_ratio(postgres, "drifted") == pytest.approx((0.60 - 0.50) / 0.60, abs=1e-9)
    assert drop_ratio(postgres, "drifted") > grafana_objects.f1_drift_rule("https://x")["threshold"]


def test_drift_stays_silent_for_a_small_dip(postgres):
    load_runs(postgres, "healthy", [0.60, 0.62, 0.58, 0.60, 0.60, 0.57])
    assert drop_ratio(postgres, "healthy") == pytest.approx(0.05, abs=1e-9)
    assert drop_ratio(postgres, "healthy") < grafana_objects.f1_drift_rule("https://x")["threshold"]


def test_drift_ignores_runs_older_than_the_7_day_baseline(postgres):
    # A great run 10 days ago must not make today's ordinary run look like a drop.
    load_runs(postgres, "old_peak", [0.95, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60, 0.60])
    assert drop_ratio(postgres, "old_peak") == pytest.approx(0.0, abs=1e-9)


def test_f1_drift_rule_is_declared_for_1h_on_the_postgres_data_source(prod):
    [group] = prod.of_type("grafana:alerting/ruleGroup:RuleGroup")
    [rule] = group.inputs["rules"]
    assert rule["name"] == "F1Drift" and rule["for"] == "1h" and rule["condition"] == "C"
    assert rule["labels"] == {"severity": "warning", "runbook": "MODEL_DRIFT"}
    assert rule["annotations"]["runbook_url"] == prod.config.alerting.runbook_base_url + "/MODEL_DRIFT.md"
    query, threshold = rule["datas"]
    assert query["datasourceUid"] == grafana_objects.POSTGRES_UID
    assert json.loads(query["model"])["rawSql"] == grafana_objects.f1_drift_sql()
    assert json.loads(threshold["model"])["conditions"][0]["evaluator"] == {"type": "gt", "params": [0.1]}
    assert rule["notificationSettings"]["contactPoint"] == grafana_objects.ALERTMANAGER_CONTACT_POINT
    [contact] = prod.of_type("grafana:alerting/contactPoint:ContactPoint")
    assert contact.inputs["alertmanagers"][0]["url"].startswith("http://kube-prometheus-stack-alertmanager.monitoring")
