"""Alertmanager as the router (spec 003, "Escalation Chain"); escalation lives in PagerDuty.

    critical  -> PagerDuty (trigger at once, resolve on recovery; one incident per alert) + Slack
    warning   -> Slack #cvntrade-alerts
    info      -> nowhere (annotations on the dashboard timeline)
    unknown   -> Slack, so that a rule with a mistyped severity still reaches people
    Watchdog  -> the external dead man's switch, every minute

One incident per alert: the critical route groups by every label (``...``), so each alert is
its own aggregation group, and Alertmanager's PagerDuty notifier uses the SHA-256 of the group
key (route matchers + labels) as the dedup key: the same for every replica and across restarts,
so a restarted or second Alertmanager re-sends the same incident instead of opening another.
Acknowledgement happens in PagerDuty; nothing here is silenced for it, so the resolve always
reaches the incident.  No inhibition rule targets a critical alert: an inhibited alert sends no
resolve, which would leave its incident open.

A stack without ``onCall`` pages nobody: its criticals reach Slack only.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import AlertingConfig
from components.topology import ALERTMANAGER_DATASOURCE_UID

SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n"
    "{{ .Annotations.description }}\n"
    "SLA: {{ .Annotations.sla }} | <{{ .Annotations.runbook_url }}|Runbook>\n"
    "{{ end }}"
    # ExternalURL is Grafana's alerting UI (https://<grafana>/alerting), behind Grafana's login:
    # its alert groups page of the Alertmanager data source, filtered to this alert.
    "<{{ .ExternalURL }}/groups?alertmanager="
    + ALERTMANAGER_DATASOURCE_UID
    + "&queryString=alertname%3D{{ .CommonLabels.alertname }}|In Grafana>"
)
INCIDENT_LINK = "\n<{incident_url}|Incident in PagerDuty (acknowledge there)>"
SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.severity | toUpper }} {{ .CommonLabels.alertname }}"
)

# A critical alert reaches PagerDuty and Slack within ten seconds of Prometheus sending it.
# Re-sending a trigger to an open incident is a no-op for PagerDuty (same dedup key); an
# incident resolved by hand while the alert still fires is opened again at the next repeat.
CRITICAL_TIMING = {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"}
CRITICAL_SLACK_REPEAT = "4h"
WARNING_TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "12h"}
# The Watchdog every minute (runbooks/WATCHDOG.md).  Alertmanager re-sends when, at a
# group_interval tick, more than repeat_interval has passed since the last send; the last send
# happened a little after the previous tick, so repeat_interval equal to group_interval would
# send every second tick.  The switch's own timeout must exceed HEARTBEAT_EVERY (README).
HEARTBEAT_EVERY = "1m"
HEARTBEAT_TIMING = {"group_wait": "0s", "group_interval": HEARTBEAT_EVERY, "repeat_interval": "50s"}


@dataclass(frozen=True)
class Destinations:
    """Plain values, only ever handled inside a Pulumi secret's apply (or as placeholders)."""

    slack_webhook_url: str
    heartbeat_url: str
    pagerduty_routing_key: str | None  # None: the stack pages nobody
    incident_url: str | None  # the PagerDuty service's page, linked from Slack


def _slack(destinations: Destinations, channel: str, color: str, incident: bool) -> dict:
    text = SLACK_TEXT
    if incident and destinations.incident_url:
        text += INCIDENT_LINK.format(incident_url=destinations.incident_url)
    return {
        "api_url": destinations.slack_webhook_url,
        "channel": channel,
        "send_resolved": True,
        "color": color,
        "title": SLACK_TITLE,
        "text": text,
    }


def _pagerduty(routing_key: str) -> dict:
    return {
        "routing_key": routing_key,
        "send_resolved": True,
        "severity": "critical",
        # PagerDuty refuses a trigger without a summary: never send an empty one.
        "description": "{{ or .CommonAnnotations.summary .CommonLabels.alertname }}",
        "client": "Alertmanager (trading platform)",
        "client_url": "{{ .ExternalURL }}",
        "details": {
            "description": "{{ .CommonAnnotations.description }}",
            "sla": "{{ .CommonAnnotations.sla }}",
            "runbook": "{{ .CommonAnnotations.runbook_url }}",
            "labels": "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}",
        },
        # Every alert has a runbook_url (tests/test_rules.py); PagerDuty refuses a link without href.
        "links": [{"href": "{{ .CommonAnnotations.runbook_url }}", "text": "Runbook"}],
    }


def receivers(alerting: AlertingConfig, destinations: Destinations) -> list[dict]:
    found: list[dict] = [
        {"name": "blackhole"},
        {"name": "slack", "slack_configs": [_slack(destinations, alerting.slack_channel, "warning", False)]},
        {"name": "slack-critical", "slack_configs": [_slack(destinations, alerting.slack_channel, "danger", True)]},
        {"name": "heartbeat", "webhook_configs": [{"url": destinations.heartbeat_url, "send_resolved": False}]},
    ]
    if destinations.pagerduty_routing_key is not None:
        found.append({"name": "pagerduty", "pagerduty_configs": [_pagerduty(destinations.pagerduty_routing_key)]})
    return found


def route(pages: bool) -> dict:
    critical_children: list[dict] = [{"receiver": "slack-critical", "repeat_interval": CRITICAL_SLACK_REPEAT}]
    if pages:
        critical_children.insert(0, {"receiver": "pagerduty", "continue": True})
    return {
        # An alert with an unknown or missing severity still reaches people (Slack).
        "receiver": "slack",
        "group_by": ["alertname", "namespace"],
        **WARNING_TIMING,
        "routes": [
            {"receiver": "heartbeat", "matchers": ['alertname="Watchdog"'], **HEARTBEAT_TIMING},
            {"receiver": "blackhole", "matchers": ['alertname="InfoInhibitor"']},
            {"receiver": "blackhole", "matchers": ['severity="info"']},
            {
                "receiver": "slack-critical",
                "matchers": ['severity="critical"'],
                "group_by": ["..."],
                **CRITICAL_TIMING,
                "routes": critical_children,
            },
            {"receiver": "slack", "matchers": ['severity="warning"'], **WARNING_TIMING},
        ],
    }


def inhibit_rules() -> list[dict]:
    return [
        # A critical alert silences the warning of the same alert and namespace (kube-prometheus).
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["namespace", "alertname"],
        },
        # ... and the warning about the same component (scheduler down > heartbeat late).  Both
        # sides must carry the label: Alertmanager counts two missing labels as equal.
        {
            "source_matchers": ['severity="critical"', 'component=~".+"'],
            "target_matchers": ['severity="warning"', 'component=~".+"'],
            "equal": ["component"],
        },
        # An exporter with no target answering explains its targets being down (the chart's
        # TargetDown, a warning): one message about the exporter, not one per target.
        {
            "source_matchers": ['alertname="ExporterDown"'],
            "target_matchers": ['alertname="TargetDown"', 'severity="warning"'],
            "equal": ["job"],
        },
        # InfoInhibitor, as in kube-prometheus.
        {
            "source_matchers": ['alertname="InfoInhibitor"'],
            "target_matchers": ['severity="info"'],
            "equal": ["namespace"],
        },
    ]


def alertmanager_config(alerting: AlertingConfig, destinations: Destinations) -> dict:
    return {
        "global": {"resolve_timeout": "5m"},
        "route": route(pages=destinations.pagerduty_routing_key is not None),
        "inhibit_rules": inhibit_rules(),
        "receivers": receivers(alerting, destinations),
    }
