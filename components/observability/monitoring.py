"""kube-prometheus-stack: Prometheus, Alertmanager, Grafana, node-exporter, kube-state-metrics.

Decisions worth knowing before reading the values:

* CRDs come from the ``prometheus-operator-crds`` release (components/cluster_base/basics.py),
  so ``crds.enabled`` is false here: no 262,144-byte client-side-apply annotation, and this
  stack's PrometheusRules never race their CRD.
* Rules: Prometheus selects PrometheusRules labelled ``platform.trading/rules`` — ours, and the
  chart's default rules, which get the same label.  Default rules for the control plane
  Kapsule manages for us (etcd, controller manager, scheduler, kube-proxy) are off: those
  targets cannot be scraped there, and their alerts would fire forever.
* ServiceMonitors, PodMonitors, Probes and ScrapeConfigs: ``*SelectorNilUsesHelmValues`` false
  with no selector = every such object in every namespace (the exporters' charts and ours).
* Alertmanager reads its configuration from the Secret the Alerting component builds from
  Pulumi secrets (``alertmanagerSpec.configSecret``); no receiver URL passes through Helm.
* Everything but the DaemonSets runs on the permanent pool; node-exporter tolerates the
  compute and low-latency taints so every node is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.cluster_base.releases import helm_release, secret
from components.config import GrafanaConfig, ObservabilityConfig
from components.observability import sizing
from components.topology import (
    ALERTMANAGER_CONFIG_SECRET,
    ALERTMANAGER_URL,
    CRITICAL_PATH_JOB,
    EVERY_NODE_TOLERATIONS,
    GRAFANA_ADMIN_SECRET,
    KUBE_PROMETHEUS_STACK_RELEASE,
    NODE_AGENT_CLASS,
    NODE_EXPORTER_PORT,
    PERMANENT_NODES,
    PLATFORM_CRITICAL_CLASS,
    PLATFORM_STANDARD_CLASS,
    PROMETHEUS_URL,
    RULE_SELECTOR_LABELS,
)

# The chart's alerts that rules/ replaces: the same name with another meaning (Watchdog,
# InfoInhibitor: ours route to the heartbeat; CPUThrottlingHigh: ours is the spec's 50% for 10m)
# or the same meaning twice (KubePodCrashLooping is PodCrashLooping, NodeCPUHighUsage is
# NodeCPUSaturated).  Its other alerts stay: TargetDown, KubeNodeNotReady, KubeletDown, ...
CHART_ALERTS_REPLACED = ("Watchdog", "InfoInhibitor", "CPUThrottlingHigh", "KubePodCrashLooping", "NodeCPUHighUsage")
# The chart's recording groups that the dashboard reads (node CPU and memory utilisation).
CHART_RECORDING_GROUPS = ("node-exporter.rules",)


def volume_claim(storage_class: str, size: str) -> dict:
    return {
        "spec": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size.replace("iB", "i")}},
        }
    }


def critical_path_scrape_config(private_ips: dict[str, str]) -> list[dict]:
    """The bare-metal hosts' node-exporters, over the private network."""
    return (
        [
            {
                "job_name": CRITICAL_PATH_JOB,
                "scrape_interval": "15s",
                "static_configs": [
                    {"targets": [f"{ip}:{NODE_EXPORTER_PORT}"], "labels": {"role": role}}
                    for role, ip in sorted(private_ips.items())
                ],
            }
        ]
        if private_ips
        else []
    )


def values(environment: str, obs: ObservabilityConfig, grafana: GrafanaConfig, private_ips: dict[str, str]) -> dict:
    sc = obs.storage_class
    return {
        "crds": {"enabled": False},
        # The chart's default rules carry our rule label (so Prometheus selects them); the
        # rules of what Kapsule manages go with their targets below, and the alerts that ours
        # replace are off (one writer per alert name: tests/test_rules.py).
        "defaultRules": {"labels": RULE_SELECTOR_LABELS, "disabled": dict.fromkeys(CHART_ALERTS_REPLACED, True)},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {
            "resources": sizing.resources("prometheus-operator"),
            "nodeSelector": PERMANENT_NODES,
            "priorityClassName": PLATFORM_STANDARD_CLASS,
            "prometheusConfigReloader": {"resources": sizing.resources("config-reloader")},
            # The install hooks that create and patch the webhook's certificate.
            "admissionWebhooks": {
                "patch": {
                    "resources": sizing.resources("admission-webhook-job"),
                    "priorityClassName": PLATFORM_STANDARD_CLASS,
                    "nodeSelector": PERMANENT_NODES,
                }
            },
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": obs.prometheus_retention,
                "retentionSize": obs.prometheus_retention_size,
                "walCompression": True,
                # The OpenTelemetry Collector writes the critical-path services' metrics here.
                "enableRemoteWriteReceiver": True,
                "externalLabels": {"environment": environment},
                "ruleSelectorNilUsesHelmValues": False,
                "ruleSelector": {"matchLabels": RULE_SELECTOR_LABELS},
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                "storageSpec": {"volumeClaimTemplate": volume_claim(sc, obs.prometheus_volume_size)},
                "additionalScrapeConfigs": critical_path_scrape_config(private_ips),
                "resources": sizing.resources("prometheus"),
                "nodeSelector": PERMANENT_NODES,
                "priorityClassName": PLATFORM_CRITICAL_CLASS,
                "podMetadata": {"labels": {"platform.trading/component": "prometheus"}},  # NetworkPolicies
                # Two collector replicas remote-write the same hosts' series: a sample may arrive
                # a little after a newer one from the other replica.
                "tsdb": {"outOfOrderTimeWindow": "10m"},
                # Exemplars (trace ids on histogram samples) back Grafana's metric -> trace links.
                "enableFeatures": ["exemplar-storage"],
            }
        },
        "alertmanager": {
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "alertmanagerSpec": {
                # Two replicas gossip the notification log: a restart neither loses nor doubles a page.
                "replicas": sizing.PERMANENT_POOL["alertmanager"].replicas,
                "configSecret": ALERTMANAGER_CONFIG_SECRET,
                # Links in notifications open Grafana's alerting UI on this Alertmanager (the
                # "alertmanager" data source): behind Grafana's login, on a path its Ingress
                # serves.  Alertmanager itself keeps serving at / in the cluster.
                "externalUrl": f"https://{grafana.domain}/alerting",
                "routePrefix": "/",
                "storage": {"volumeClaimTemplate": volume_claim(sc, f"{sizing.VOLUME_GIB['alertmanager']}GiB")},
                "resources": sizing.resources("alertmanager"),
                "nodeSelector": PERMANENT_NODES,
                "priorityClassName": PLATFORM_CRITICAL_CLASS,
                "podMetadata": {"labels": {"platform.trading/component": "alertmanager"}},  # NetworkPolicies
            },
        },
        "grafana": grafana_values(grafana, sc),
        "kube-state-metrics": {
            "resources": sizing.resources("kube-state-metrics"),
            "nodeSelector": PERMANENT_NODES,
            "priorityClassName": PLATFORM_STANDARD_CLASS,
            # No rule or panel reads kube_secret_*: without the collector, kube-state-metrics
            # needs no right to read Secrets.
            "collectorsExclude": ["secrets"],
        },
        "prometheus-node-exporter": {
            "resources": sizing.resources("node-exporter"),
            "tolerations": EVERY_NODE_TOLERATIONS,
            "priorityClassName": NODE_AGENT_CLASS,
            # instance = the node's name (scw-...-permanent-...), which the dashboard and the
            # pool regexes read, instead of the pod's IP.
            "prometheus": {
                "monitor": {
                    "relabelings": [
                        {
                            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                            "targetLabel": "instance",
                            "action": "replace",
                        }
                    ]
                }
            },
        },
    }


def grafana_values(grafana: GrafanaConfig, storage_class: str) -> dict:
    return {
        "priorityClassName": PLATFORM_STANDARD_CLASS,
        # Data sources are declared with pulumiverse_grafana (grafana.py): no data-source
        # sidecar.  The dashboard sidecar reads ConfigMaps of its own namespace only, so it
        # needs no right on Secrets, and none cluster-wide.
        "sidecar": {
            "resources": sizing.resources("grafana-sidecar"),
            "datasources": {"enabled": False, "defaultDatasourceEnabled": False},
            "dashboards": {"resource": "configmap"},
        },
        "rbac": {"namespaced": True},
        # The volume is mounted with the pod's fsGroup: no root init container to chown it.
        "initChownData": {"enabled": False},
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
        "persistence": {
            "enabled": True,
            "type": "pvc",
            "storageClassName": storage_class,
            "size": f"{sizing.VOLUME_GIB['grafana']}Gi",
        },
        "ingress": {
            "enabled": True,
            "ingressClassName": "traefik",
            "annotations": {
                "cert-manager.io/cluster-issuer": "letsencrypt",
                "traefik.ingress.kubernetes.io/router.entrypoints": "websecure",
                "traefik.ingress.kubernetes.io/router.tls": "true",
            },
            "hosts": [grafana.domain],
            "tls": [{"secretName": "grafana-tls", "hosts": [grafana.domain]}],
        },
        "grafana.ini": {
            "server": {"root_url": f"https://{grafana.domain}"},
            "auth.anonymous": {"enabled": False},
            "users": {"allow_sign_up": False},
            "security": {"cookie_secure": True, "disable_gravatar": True},
            "analytics": {"check_for_updates": False, "reporting_enabled": False},
        },
        "resources": sizing.resources("grafana"),
        "nodeSelector": PERMANENT_NODES,
    }


@dataclass(frozen=True)
class MonitoringArgs:
    environment: str
    namespace: pulumi.Input[str]
    observability: ObservabilityConfig
    grafana: GrafanaConfig
    grafana_admin_password: pulumi.Output[str]
    critical_path_ips: pulumi.Input[dict]
    provider: k8s.Provider
    depends_on: list


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:Monitoring", name, None, opts)
        self.grafana_admin = secret(
            f"{name}-grafana-admin",
            GRAFANA_ADMIN_SECRET,
            args.namespace,
            {"admin-user": "admin", "admin-password": args.grafana_admin_password},
            parent=self,
            provider=args.provider,
        )
        release_values = pulumi.Output.from_input(args.critical_path_ips).apply(
            lambda ips: values(args.environment, args.observability, args.grafana, ips)
        )
        # Grafana's volume and the operator's webhooks can take minutes on a fresh cluster.
        self.release = helm_release(
            f"{name}-kube-prometheus-stack",
            KUBE_PROMETHEUS_STACK_RELEASE,
            pins.chart("kube-prometheus-stack"),
            args.namespace,
            release_values,
            parent=self,
            provider=args.provider,
            depends_on=[self.grafana_admin, *args.depends_on],
            timeout=900,
        )
        self.prometheus_url = PROMETHEUS_URL
        self.alertmanager_url = ALERTMANAGER_URL
        self.register_outputs({"prometheus_url": PROMETHEUS_URL, "alertmanager_url": ALERTMANAGER_URL})
