"""Alert and recording rules as PrometheusRule objects, and the Alertmanager configuration.

The rules are the files in ``rules/`` exactly as promtool reads and tests them; the only
change on the way in is the runbook base URL (``https://runbooks.invalid`` in the files, the
stack's ``runbookBaseUrl`` in the cluster).  The Alertmanager configuration is a Kubernetes
Secret built inside a Pulumi secret: the Slack and heartbeat URLs and the PagerDuty routing key
(from the PagerDuty integration the stack declares, components/alerting/on_call.py) never
appear in plaintext in the state, a Helm value or a preview.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.alerting import routing
from components.cluster_base.releases import secret
from components.config import AlertingConfig, Secrets
from components.topology import ALERTMANAGER_CONFIG_SECRET, RULE_SELECTOR_LABELS

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
RUNBOOK_PLACEHOLDER_BASE = "https://runbooks.invalid"


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yaml"))


def load_rule_file(path: Path, runbook_base_url: str) -> dict:
    """A rule file as a PrometheusRule spec, runbook links pointing at ``runbook_base_url``."""
    text = path.read_text().replace(RUNBOOK_PLACEHOLDER_BASE, runbook_base_url.rstrip("/"))
    return yaml.safe_load(text)


@dataclass(frozen=True)
class AlertingArgs:
    namespace: pulumi.Input[str]
    alerting: AlertingConfig
    secrets: Secrets
    # The PagerDuty integration's key (a secret) and service page; None when the stack pages nobody.
    pagerduty_routing_key: pulumi.Output[str] | None
    incident_url: pulumi.Output[str] | None
    provider: k8s.Provider
    crds: pulumi.Resource  # the release that installs the PrometheusRule CRD


class Alerting(pulumi.ComponentResource):
    def __init__(self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:Alerting", name, None, opts)
        self.rules: dict[str, k8s.apiextensions.CustomResource] = {}
        for path in rule_files():
            self.rules[path.stem] = k8s.apiextensions.CustomResource(
                f"{name}-rules-{path.stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"trading-platform-{path.stem}",
                    namespace=args.namespace,
                    labels=RULE_SELECTOR_LABELS,
                ),
                spec=load_rule_file(path, args.alerting.runbook_base_url),
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=[args.crds]),
            )

        s = args.secrets
        document = pulumi.Output.all(
            s.slack_webhook_url.output(), s.heartbeat_url.output(), args.pagerduty_routing_key, args.incident_url
        ).apply(
            lambda v: yaml.safe_dump(
                routing.alertmanager_config(args.alerting, routing.Destinations(*v)), sort_keys=False
            )
        )
        self.alertmanager_config = secret(
            f"{name}-alertmanager-config",
            ALERTMANAGER_CONFIG_SECRET,
            args.namespace,
            {"alertmanager.yaml": document},
            parent=self,
            provider=args.provider,
        )
        self.alertmanager_config_secret = pulumi.Output.concat(args.namespace, "/", ALERTMANAGER_CONFIG_SECRET)
        self.register_outputs({"alertmanager_config_secret": self.alertmanager_config_secret})
