"""The escalation chain as an Alertmanager configuration (spec 003, "Escalation Chain").

    info      -> nowhere (annotations on the dashboard timeline)
    warning   -> Slack #cvntrade-alerts, at once
    critical  -> Slack + SMS to the primary on-call, at once (within a minute of firing)
                 15 min unacknowledged -> SMS to the secondary on-call
                 30 min unacknowledged -> PagerDuty incident
    Watchdog  -> heartbeat receiver (dead man's switch), every minute

Alertmanager has no acknowledgement and no SMS receiver (alertmanager#686, #2150), so:

* acknowledging = creating a silence for the alert group (Slack messages carry the link).
  The escalation receivers hang off the critical route with ``group_wait`` 15m and 30m:
  Alertmanager runs the silence check when it flushes the group, so a group silenced (or
  resolved) before then never escalates;
* SMS goes through a webhook to the SMS bridge (``smsBridgeUrl``, a secret), with the
  recipient's E.164 number as the ``to`` query parameter.

README "Alert routing and escalation" lists the failure modes of this design.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from components.config import AlertingConfig
from components.topology import ALERTMANAGER_DATASOURCE_UID

SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n"
    "{{ .Annotations.description }}\n"
    "SLA: {{ .Annotations.sla }} | Runbook: {{ .Annotations.runbook_url }}\n"
    "{{ end }}"
    # ExternalURL is Grafana's alerting UI (https://<grafana>/alerting): the silence form of
    # the Alertmanager data source, pre-filled with this group's labels, behind Grafana's login.
    "Silence: {{ .ExternalURL }}/silence/new?alertmanager=" + ALERTMANAGER_DATASOURCE_UID + "&matcher=alertname%3D"
    "{{ .CommonLabels.alertname }}{{ if .CommonLabels.namespace }}&matcher=namespace%3D"
    "{{ .CommonLabels.namespace }}{{ end }}"
)
SLACK_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.severity | toUpper }} {{ .CommonLabels.alertname }}"
)

# Timing.  A critical alert pages within one minute of firing: group_wait 10s for a new
# group, group_interval 1m for an alert joining a group that already paged.
CRITICAL_TIMING = {"group_wait": "10s", "group_interval": "1m", "repeat_interval": "4h"}
WARNING_TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "12h"}
ESCALATE_TO_SECONDARY_AFTER = "15m"
ESCALATE_TO_PAGERDUTY_AFTER = "30m"


@dataclass(frozen=True)
class EscalationSecrets:
    """Plain values, only ever handled inside a Pulumi secret's apply (or as placeholders)."""

    slack_webhook_url: str
    pagerduty_routing_key: str
    sms_bridge_url: str
    heartbeat_url: str


def _sms_url(bridge: str, phone: str) -> str:
    separator = "&" if "?" in bridge else "?"
    return f"{bridge}{separator}to={quote(phone, safe='')}"


def _slack(secrets: EscalationSecrets, channel: str, color: str) -> dict:
    return {
        "api_url": secrets.slack_webhook_url,
        "channel": channel,
        "send_resolved": True,
        "color": color,
        "title": SLACK_TITLE,
        "text": SLACK_TEXT,
    }


def receivers(alerting: AlertingConfig, secrets: EscalationSecrets) -> list[dict]:
    def sms(phone: str) -> dict:
        return {"url": _sms_url(secrets.sms_bridge_url, phone), "send_resolved": False, "max_alerts": 10}

    return [
        {"name": "blackhole"},
        {"name": "slack", "slack_configs": [_slack(secrets, alerting.slack_channel, "warning")]},
        {"name": "slack-critical", "slack_configs": [_slack(secrets, alerting.slack_channel, "danger")]},
        {"name": "sms-primary-on-call", "webhook_configs": [sms(alerting.on_call_primary)]},
        {"name": "sms-secondary-on-call", "webhook_configs": [sms(alerting.on_call_secondary)]},
        {
            "name": "pagerduty",
            "pagerduty_configs": [
                {
                    "routing_key": secrets.pagerduty_routing_key,
                    "severity": "critical",
                    "send_resolved": True,
                    "description": "{{ .CommonAnnotations.summary }}",
                    "details": {
                        "description": "{{ .CommonAnnotations.description }}",
                        "sla": "{{ .CommonAnnotations.sla }}",
                        "runbook": "{{ .CommonAnnotations.runbook_url }}",
                        "firing": "{{ .Alerts.Firing | len }}",
                    },
                }
            ],
        },
        {"name": "heartbeat", "webhook_configs": [{"url": secrets.heartbeat_url, "send_resolved": False}]},
    ]


def route() -> dict:
    return {
        # An alert with an unknown or missing severity still reaches people (Slack).
        "receiver": "slack",
        "group_by": ["alertname", "namespace"],
        **WARNING_TIMING,
        "routes": [
            {
                "receiver": "heartbeat",
                "matchers": ['alertname="Watchdog"'],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            },
            {"receiver": "blackhole", "matchers": ['alertname="InfoInhibitor"']},
            {"receiver": "blackhole", "matchers": ['severity="info"']},
            {
                "receiver": "slack-critical",
                "matchers": ['severity="critical"'],
                **CRITICAL_TIMING,
                "routes": [
                    {"receiver": "slack-critical", "continue": True},
                    {"receiver": "sms-primary-on-call", "continue": True, "repeat_interval": "1h"},
                    {
                        "receiver": "sms-secondary-on-call",
                        "continue": True,
                        "group_wait": ESCALATE_TO_SECONDARY_AFTER,
                        "group_interval": "5m",
                        "repeat_interval": "1h",
                    },
                    {
                        "receiver": "pagerduty",
                        "group_wait": ESCALATE_TO_PAGERDUTY_AFTER,
                        "group_interval": "5m",
                        "repeat_interval": "4h",
                    },
                ],
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
        # InfoInhibitor, as in kube-prometheus.
        {
            "source_matchers": ['alertname="InfoInhibitor"'],
            "target_matchers": ['severity="info"'],
            "equal": ["namespace"],
        },
    ]


def alertmanager_config(alerting: AlertingConfig, secrets: EscalationSecrets) -> dict:
    return {
        "global": {"resolve_timeout": "5m"},
        "route": route(),
        "inhibit_rules": inhibit_rules(),
        "receivers": receivers(alerting, secrets),
    }
