"""What every other Kubernetes object of the stack stands on: namespaces, the spec's
``high-priority`` PriorityClass (spec 001), and the Prometheus Operator's CRDs.

The CRDs come from their own Helm release (prometheus-operator-crds, the chart
kube-prometheus-stack itself depends on), installed before anything that uses them:
* they are larger than client-side apply's 262,144-byte annotation limit, and a Helm release
  installs them without that annotation;
* PrometheusRule and ScrapeConfig objects declared in this stack depend on this release, so
  on a fresh cluster they are never applied before their kinds exist;
* kube-prometheus-stack then runs with ``crds.enabled: false`` and upgrades never race them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import pins
from components.cluster_base.releases import helm_release
from components.topology import (
    HIGH_PRIORITY_CLASS,
    HIGH_PRIORITY_VALUE,
    PLATFORM_CRITICAL_CLASS,
    PLATFORM_CRITICAL_VALUE,
    PLATFORM_STANDARD_CLASS,
    PLATFORM_STANDARD_VALUE,
)


@dataclass(frozen=True)
class ClusterBasicsArgs:
    monitoring_namespace: str
    workload_namespaces: tuple[str, ...]
    provider: k8s.Provider
    # Deleting a namespace deletes its PersistentVolumeClaims: the monitoring namespace holds
    # Prometheus's, Loki's, Tempo's, Grafana's and Alertmanager's volumes.
    protect: bool


class ClusterBasics(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterBasicsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:k8s:ClusterBasics", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        self.namespaces = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels={"app.kubernetes.io/part-of": "trading-platform"}),
                opts=pulumi.ResourceOptions(
                    parent=self, provider=args.provider, protect=args.protect and ns == args.monitoring_namespace
                ),
            )
            for ns in (args.monitoring_namespace, *args.workload_namespaces)
        }
        self.priority_classes = [
            k8s.scheduling.v1.PriorityClass(
                f"{name}-{class_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name),
                value=value,
                global_default=False,
                description=description,
                opts=child,
            )
            for class_name, value, description in (
                (HIGH_PRIORITY_CLASS, HIGH_PRIORITY_VALUE, "High priority for HFT support services (spec 001)."),
                (
                    PLATFORM_CRITICAL_CLASS,
                    PLATFORM_CRITICAL_VALUE,
                    "Prometheus, Alertmanager, the telemetry gateway and the ingress: above the HFT services.",
                ),
                (
                    PLATFORM_STANDARD_CLASS,
                    PLATFORM_STANDARD_VALUE,
                    "The rest of the platform (Grafana, Loki, Tempo, exporters, operators): below the HFT services.",
                ),
            )
        ]
        self.prometheus_operator_crds = helm_release(
            f"{name}-prometheus-operator-crds",
            "prometheus-operator-crds",
            pins.chart("prometheus-operator-crds"),
            self.namespaces[args.monitoring_namespace].metadata.name,
            {},
            parent=self,
            provider=args.provider,
            # Every release waits for this one: so the priority classes exist before any pod.
            depends_on=self.priority_classes,
        )
        self.monitoring_namespace = self.namespaces[args.monitoring_namespace].metadata.name
        self.register_outputs({"monitoring_namespace": self.monitoring_namespace})
