"""Who may talk to what in the monitoring namespace: the flows of the architecture diagram and
nothing else.

Everything in ``monitoring`` refuses ingress by default; each workload then accepts its own
ports from the peers that need them.  Above all, Prometheus's remote-write receiver (which
would take fake series from any pod) and Alertmanager's API (which creates silences) answer
only Grafana, the collector, Tempo's metrics generator and Prometheus.  Pod labels are the ones
the charts render (tests/test_manifests.py checks every selector against the rendered pods).
Node-exporter runs on the host network, where NetworkPolicies do not apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.topology import INGRESS_NAMESPACE, OTLP_GRPC_PORT, OTLP_HTTP_PORT, STATSD_EXPORTER_SERVICE

NAME = "app.kubernetes.io/name"
# Pods, by the labels the charts (and the operator, from the CRs' podMetadata) give them.
PROMETHEUS = {"platform.trading/component": "prometheus"}
ALERTMANAGER = {"platform.trading/component": "alertmanager"}
GRAFANA = {NAME: "grafana"}
COLLECTOR = {NAME: "opentelemetry-collector"}
LOKI = {NAME: "loki"}
TEMPO = {NAME: "tempo"}
ALLOY = {NAME: "alloy"}


@dataclass(frozen=True)
class Peer:
    """Pods of the monitoring namespace (``pods``), of other namespaces (``namespaces``, with
    ``pods`` inside them when set), or addresses (``cidr``)."""

    pods: dict[str, str] | None = None
    namespaces: tuple[str, ...] | None = None
    any_namespace: bool = False
    cidr: str | None = None

    def args(self) -> k8s.networking.v1.NetworkPolicyPeerArgs:
        if self.cidr is not None:
            return k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=self.cidr))
        namespace_selector = None
        if self.any_namespace:
            namespace_selector = k8s.meta.v1.LabelSelectorArgs()
        elif self.namespaces:
            namespace_selector = k8s.meta.v1.LabelSelectorArgs(
                match_expressions=[
                    k8s.meta.v1.LabelSelectorRequirementArgs(
                        key="kubernetes.io/metadata.name", operator="In", values=list(self.namespaces)
                    )
                ]
            )
        pod_selector = k8s.meta.v1.LabelSelectorArgs(match_labels=self.pods) if self.pods is not None else None
        return k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=namespace_selector, pod_selector=pod_selector)


@dataclass(frozen=True)
class Allow:
    """``target`` pods accept ``ports`` (number, protocol) from ``peers``."""

    name: str
    target: dict[str, str]
    ports: tuple[tuple[int, str], ...]
    peers: tuple[Peer, ...] = field(default_factory=tuple)


def allowed_flows(private_subnet: str, workload_namespaces: tuple[str, ...]) -> list[Allow]:
    prometheus = Peer(pods=PROMETHEUS)
    return [
        # Queries from Grafana; remote write from the collector (the hosts' and apps' metrics)
        # and from Tempo's metrics generator (service graph); its own reloader and self-scrape.
        Allow(
            "prometheus",
            PROMETHEUS,
            ((9090, "TCP"), (8080, "TCP")),
            (Peer(pods=GRAFANA), Peer(pods=COLLECTOR), Peer(pods=TEMPO), prometheus),
        ),
        # Alerts from Prometheus; silences and acknowledgements through Grafana; the two
        # replicas' gossip of the notification log.
        Allow("alertmanager-api", ALERTMANAGER, ((9093, "TCP"), (8080, "TCP")), (prometheus, Peer(pods=GRAFANA))),
        Allow("alertmanager-gossip", ALERTMANAGER, ((9094, "TCP"), (9094, "UDP")), (Peer(pods=ALERTMANAGER),)),
        # The UI through the ingress; its metrics to Prometheus.
        Allow(
            "grafana",
            GRAFANA,
            ((3000, "TCP"),),
            (Peer(namespaces=(INGRESS_NAMESPACE,), pods={NAME: "traefik"}), prometheus),
        ),
        Allow("loki", LOKI, ((3100, "TCP"),), (Peer(pods=ALLOY), Peer(pods=COLLECTOR), Peer(pods=GRAFANA), prometheus)),
        Allow("loki-memberlist", LOKI, ((7946, "TCP"), (9095, "TCP")), (Peer(pods=LOKI),)),
        Allow("tempo-query", TEMPO, ((3200, "TCP"),), (Peer(pods=GRAFANA), prometheus)),
        Allow("tempo-ingest", TEMPO, ((OTLP_GRPC_PORT, "TCP"),), (Peer(pods=COLLECTOR),)),
        # OTLP from every pod of the cluster and from the private network (the bare-metal
        # hosts, through the private load balancer); the collector's own metrics to Prometheus.
        Allow(
            "collector-otlp",
            COLLECTOR,
            ((OTLP_GRPC_PORT, "TCP"), (OTLP_HTTP_PORT, "TCP")),
            (Peer(any_namespace=True, pods={}), Peer(cidr=private_subnet)),
        ),
        Allow("collector-metrics", COLLECTOR, ((8888, "TCP"),), (prometheus,)),
        Allow("alloy-metrics", ALLOY, ((12345, "TCP"),), (prometheus,)),
        Allow("kube-state-metrics", {NAME: "kube-state-metrics"}, ((8080, "TCP"), (8081, "TCP")), (prometheus,)),
        Allow("blackbox-exporter", {NAME: "prometheus-blackbox-exporter"}, ((9115, "TCP"),), (prometheus,)),
        Allow("postgres-exporter", {NAME: "prometheus-postgres-exporter"}, ((9187, "TCP"),), (prometheus,)),
        Allow("statsd-metrics", {NAME: STATSD_EXPORTER_SERVICE}, ((9102, "TCP"),), (prometheus,)),
        # Airflow's statsd datagrams, from the workload namespaces.
        Allow(
            "statsd-ingest",
            {NAME: STATSD_EXPORTER_SERVICE},
            ((9125, "UDP"),),
            (Peer(namespaces=workload_namespaces, pods={}),),
        ),
        # The operator's admission webhook is called by the Kubernetes API server, which on
        # Kapsule is outside the cluster's pod network: no selector can name it.
        Allow(
            "operator-webhook", {"app": "kube-prometheus-stack-operator"}, ((10250, "TCP"),), (Peer(cidr="0.0.0.0/0"),)
        ),
    ]


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    private_subnet: str  # the bare-metal hosts send OTLP from here, through the private load balancer
    workload_namespaces: tuple[str, ...]  # Airflow's statsd datagrams come from these
    provider: k8s.Provider


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:observability:NetworkPolicies", name, None, opts)
        namespace, provider = args.namespace, args.provider
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        self.policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-default-deny",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=namespace),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
                ),
                opts=child,
            )
        ]
        for flow in allowed_flows(args.private_subnet, args.workload_namespaces):
            self.policies.append(
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-{flow.name}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=f"allow-{flow.name}", namespace=namespace),
                    spec=k8s.networking.v1.NetworkPolicySpecArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=flow.target),
                        policy_types=["Ingress"],
                        ingress=[
                            k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                                from_=[peer.args() for peer in flow.peers],
                                ports=[
                                    k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol=protocol)
                                    for port, protocol in flow.ports
                                ],
                            )
                        ],
                    ),
                    opts=child,
                )
            )
        self.register_outputs({})
