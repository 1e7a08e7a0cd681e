"""Grafana objects of the platform: its folder, the PostgreSQL data source that holds
``finetune_results``, and the Grafana-managed F1 Drift alert.

Why F1 Drift is a Grafana-managed rule and not a Prometheus rule: the F1 score lives in
PostgreSQL, one row per fine-tuning run.  The only way to bring it to Prometheus with the
exporters this stack runs would be postgres_exporter's user queries file, which upstream
deprecated; a per-run figure is also not a time series Prometheus can sample meaningfully.
Grafana evaluates the SQL itself (``rules/grafana/f1_drift.sql``, tested against a real
PostgreSQL) and hands the alert to the same Alertmanager, so routing and escalation are the
same as for every other warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_random as random
import pulumiverse_grafana as grafana

from components.config import AlertingConfig, GrafanaConfig, SecretValue
from components.topology import ALERTMANAGER_DATASOURCE_UID

SQL_DIR = Path(__file__).resolve().parents[2] / "rules" / "grafana"
FOLDER_UID = "trading-platform"
POSTGRES_UID = "trading-postgres"
PROMETHEUS_UID, LOKI_UID, TEMPO_UID = "prometheus", "loki", "tempo"
ALERTMANAGER_CONTACT_POINT = "platform-alertmanager"


def f1_drift_sql() -> str:
    return (SQL_DIR / "f1_drift.sql").read_text()


def f1_drift_rule(runbook_base_url: str) -> dict:
    """The rule as plain data (also read by the runbook-link test)."""
    return {
        "name": "F1Drift",
        "uid": "f1-drift",
        "for": "1h",
        "threshold": 0.10,
        "labels": {"severity": "warning", "runbook": "MODEL_DRIFT"},
        "annotations": {
            "summary": "Model F1 macro dropped over 10% below its 7-day average.",
            "description": "The latest fine-tuning run's mean f1_macro is {{ humanizePercentage $values.A.Value }} "
            "below the mean of the runs of the 7 days before it.",
            "sla": "Model stability",
            "runbook_url": f"{runbook_base_url}/MODEL_DRIFT.md",
        },
    }


class GrafanaAdmin(pulumi.ComponentResource):
    """Grafana's admin credential: generated here, handed to the Grafana install (a Kubernetes
    Secret) and to the provider that makes the automation's service account; never a stack
    output.

    Grafana applies the admin password only on its first start: a replaced password would lock
    that provider out of a Grafana that still has the old one, so in protected stacks the
    password is protected (README "Access to the cluster" says how to read it)."""

    def __init__(self, name: str, protect: bool = False, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:GrafanaAdmin", name, None, opts)
        self.password = random.RandomPassword(
            f"{name}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self, protect=protect)
        )
        self.user = "admin"
        self.secret_password: pulumi.Output[str] = pulumi.Output.secret(self.password.result)
        auth: pulumi.Output[str] = pulumi.Output.concat(self.user, ":", self.password.result)
        self.basic_auth: pulumi.Output[str] = pulumi.Output.secret(auth)
        self.register_outputs({})


# The automation token lives 90 days; any `pulumi up` in its last 30 days replaces it (the
# new token is created before the old one is deleted), so a stack deployed at least monthly
# never sees it expire, and a leaked token is useless within a quarter.
TOKEN_DAYS, TOKEN_EARLY_ROTATION_DAYS = 90, 30


class GrafanaAutomation(pulumi.ComponentResource):
    """What the stack's Grafana objects authenticate with: a service account token, not the
    admin password.

    The admin credential (basic auth, a Grafana server admin) is used for one thing only:
    creating the ``pulumi-automation`` service account (org role Admin: enough for folders,
    data sources, dashboards and alert rules, not for users, orgs or server settings) and its
    rotating token.  Every other Grafana object is managed through a provider that holds
    ``token_key``, so the audit log names the automation and not ``admin``, and the token can be
    revoked without touching the admin login."""

    def __init__(
        self, name: str, url: str, admin: GrafanaAdmin, depends_on: list, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("trading:observability:GrafanaAutomation", name, None, opts)
        self.admin_provider = grafana.Provider(
            f"{name}-admin-provider",
            url=url,
            auth=admin.basic_auth,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        as_admin = pulumi.ResourceOptions(parent=self, provider=self.admin_provider)
        self.service_account = grafana.oss.ServiceAccount(
            f"{name}-service-account", name="pulumi-automation", role="Admin", is_disabled=False, opts=as_admin
        )
        self.token = grafana.oss.ServiceAccountRotatingToken(
            f"{name}-token",
            service_account_id=self.service_account.id,
            name_prefix="pulumi-automation",
            seconds_to_live=TOKEN_DAYS * 86400,
            early_rotation_window_seconds=TOKEN_EARLY_ROTATION_DAYS * 86400,
            delete_on_destroy=True,
            opts=as_admin,
        )
        self.token_key: pulumi.Output[str] = pulumi.Output.secret(self.token.key)
        self.register_outputs({"service_account_id": self.service_account.id})


@dataclass(frozen=True)
class GrafanaObjectsArgs:
    grafana: GrafanaConfig
    alerting: AlertingConfig
    postgres_password: SecretValue
    alertmanager_url: str
    prometheus_url: str
    loki_url: str
    tempo_url: str
    admin: GrafanaAdmin
    dashboards: dict  # uid -> JSON model
    depends_on: list  # what installs Grafana and makes it reachable over HTTPS


class GrafanaObjects(pulumi.ComponentResource):
    def __init__(self, name: str, args: GrafanaObjectsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:GrafanaObjects", name, None, opts)
        cfg = args.grafana
        self.url = f"https://{cfg.domain}"
        # Objects are managed with the automation's token; only the token is made with the admin login.
        # The provider keeps its name: on a deployed stack only its credential changes.
        self.automation = GrafanaAutomation(
            f"{name}-automation", self.url, args.admin, args.depends_on, opts=pulumi.ResourceOptions(parent=self)
        )
        self.provider = grafana.Provider(
            f"{name}-provider",
            url=self.url,
            auth=self.automation.token_key,
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)

        self.folder = grafana.oss.Folder(f"{name}-folder", uid=FOLDER_UID, title="Trading platform", opts=child)
        # Metrics, logs and traces, linked: exemplars -> traces, traces -> logs, logs -> traces.
        self.prometheus = grafana.oss.DataSource(
            f"{name}-prometheus",
            uid=PROMETHEUS_UID,
            name="Prometheus",
            type="prometheus",
            url=args.prometheus_url,
            is_default=True,
            json_data_encoded=json.dumps(
                {
                    "httpMethod": "POST",
                    "timeInterval": "30s",
                    "exemplarTraceIdDestinations": [{"name": "trace_id", "datasourceUid": TEMPO_UID}],
                }
            ),
            opts=child,
        )
        self.loki = grafana.oss.DataSource(
            f"{name}-loki",
            uid=LOKI_UID,
            name="Loki",
            type="loki",
            url=args.loki_url,
            json_data_encoded=json.dumps(
                {
                    "derivedFields": [
                        {
                            "name": "TraceID",
                            "matcherType": "label",
                            "matcherRegex": "trace_id",
                            "url": "${__value.raw}",
                            "datasourceUid": TEMPO_UID,
                        }
                    ]
                }
            ),
            opts=child,
        )
        # Grafana's alerting UI on the in-cluster Alertmanager: where notification links land.
        self.alertmanager = grafana.oss.DataSource(
            f"{name}-alertmanager-datasource",
            uid=ALERTMANAGER_DATASOURCE_UID,
            name="Alertmanager",
            type="alertmanager",
            url=args.alertmanager_url,
            json_data_encoded=json.dumps({"implementation": "prometheus", "handleGrafanaManagedAlerts": False}),
            opts=child,
        )
        self.tempo = grafana.oss.DataSource(
            f"{name}-tempo",
            uid=TEMPO_UID,
            name="Tempo",
            type="tempo",
            url=args.tempo_url,
            json_data_encoded=json.dumps(
                {
                    "tracesToLogsV2": {
                        "datasourceUid": LOKI_UID,
                        "filterByTraceID": True,
                        "spanStartTimeShift": "-5m",
                        "spanEndTimeShift": "5m",
                    },
                    "serviceMap": {"datasourceUid": PROMETHEUS_UID},
                    "lokiSearch": {"datasourceUid": LOKI_UID},
                }
            ),
            opts=child,
        )
        self.postgres = grafana.oss.DataSource(
            f"{name}-postgres",
            uid=POSTGRES_UID,
            name="finetune_results (PostgreSQL)",
            type="grafana-postgresql-datasource",
            url=cfg.postgres_host,
            username=cfg.postgres_user,
            database_name=cfg.postgres_database,
            json_data_encoded=json.dumps(
                {"database": cfg.postgres_database, "sslmode": "require", "postgresVersion": 1500, "timescaledb": False}
            ),
            secure_json_data_encoded=args.postgres_password.output().apply(lambda pw: json.dumps({"password": pw})),
            opts=child,
        )
        self.contact_point = grafana.alerting.ContactPoint(
            f"{name}-alertmanager",
            name=ALERTMANAGER_CONTACT_POINT,
            alertmanagers=[grafana.alerting.ContactPointAlertmanagerArgs(url=args.alertmanager_url)],
            opts=child,
        )
        self.dashboards = {
            uid: grafana.oss.Dashboard(
                f"{name}-dashboard-{uid}",
                folder=self.folder.uid,
                config_json=json.dumps(model, sort_keys=True),
                overwrite=True,
                message="Deployed by the trading-platform Pulumi stack",
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(depends_on=[self.prometheus, self.postgres])
                ),
            )
            for uid, model in args.dashboards.items()
        }
        rule = f1_drift_rule(args.alerting.runbook_base_url)
        self.model_drift = grafana.alerting.RuleGroup(
            f"{name}-model-drift",
            name="model-drift",
            folder_uid=self.folder.uid,
            interval_seconds=300,
            rules=[
                grafana.alerting.RuleGroupRuleArgs(
                    name=rule["name"],
                    uid=rule["uid"],
                    for_=rule["for"],
                    condition="C",
                    labels=rule["labels"],
                    annotations=rule["annotations"],
                    no_data_state="OK",
                    exec_err_state="Error",
                    notification_settings=grafana.alerting.RuleGroupRuleNotificationSettingsArgs(
                        contact_point=self.contact_point.name
                    ),
                    datas=[
                        grafana.alerting.RuleGroupRuleDataArgs(
                            ref_id="A",
                            datasource_uid=self.postgres.uid,
                            relative_time_range=grafana.alerting.RuleGroupRuleDataRelativeTimeRangeArgs(
                                from_=8 * 86400, to=0
                            ),
                            model=json.dumps(
                                {
                                    "refId": "A",
                                    "rawSql": f1_drift_sql(),
                                    "format": "table",
                                    "rawQuery": True,
                                    "editorMode": "code",
                                }
                            ),
                        ),
                        grafana.alerting.RuleGroupRuleDataArgs(
                            ref_id="C",
                            datasource_uid="__expr__",
                            relative_time_range=grafana.alerting.RuleGroupRuleDataRelativeTimeRangeArgs(from_=0, to=0),
                            model=json.dumps(
                                {
                                    "refId": "C",
                                    "type": "threshold",
                                    "expression": "A",
                                    "conditions": [{"evaluator": {"type": "gt", "params": [rule["threshold"]]}}],
                                }
                            ),
                        ),
                    ],
                )
            ],
            opts=child,
        )
        self.register_outputs({"folder_uid": self.folder.uid})
