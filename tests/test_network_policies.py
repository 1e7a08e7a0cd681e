"""NetworkPolicies allow exactly the flows of the architecture diagram.

Each flow is checked by evaluating the rendered NetworkPolicies the way Kubernetes does
(a pod selected by any Ingress policy accepts only what some rule of those policies allows;
peers by pod selector within the policy's namespace, namespace selector on the
``kubernetes.io/metadata.name`` label every namespace carries, or IP block) between pods
whose labels and container ports are taken from the rendered workloads, not from the code.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from offline.manifest_model import containers, name_of, namespace_of, pods, selector_matches


@dataclass(frozen=True)
class Endpoint:
    namespace: str
    labels: dict
    ip: str | None = None  # an address outside the pod network (a bare-metal host)


def _workload_pod(objects, name: str) -> tuple[Endpoint, set[tuple[int, str]]]:
    for _, workload, pod in pods(objects):
        if name_of(workload) == name:
            ports = {
                (p["containerPort"], p.get("protocol", "TCP")) for c in containers(pod) for p in c.get("ports") or []
            }
            return Endpoint(namespace_of(workload), pod["metadata"].get("labels") or {}), ports
    raise AssertionError(f"no workload {name} rendered")


def _operator_pod(objects, kind: str) -> tuple[Endpoint, set[tuple[int, str]]]:
    """Prometheus and Alertmanager pods: the operator gives them the CR's podMetadata labels and
    its own ports (9090 web + 8080 reloader for Prometheus; 9093 web, 9094 mesh, 8080 for
    Alertmanager)."""
    [cr] = [o for _, o in objects if o["kind"] == kind]
    ports = {
        "Prometheus": {(9090, "TCP"), (8080, "TCP")},
        "Alertmanager": {(9093, "TCP"), (9094, "TCP"), (9094, "UDP"), (8080, "TCP")},
    }[kind]
    return Endpoint(namespace_of(cr), cr["spec"]["podMetadata"]["labels"]), ports


def allowed(policies, source: Endpoint, target: Endpoint, port: int, protocol: str = "TCP") -> bool:
    selecting = [
        p
        for p in policies
        if namespace_of(p) == target.namespace
        and selector_matches(p["spec"]["podSelector"], target.labels)
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports):
                continue
            peers = rule.get("from")
            if not peers or any(_peer_matches(peer, policy, source) for peer in peers):
                return True
    return False


def _peer_matches(peer: dict, policy: dict, source: Endpoint) -> bool:
    if "ipBlock" in peer:
        return source.ip is not None and ipaddress.ip_address(source.ip) in ipaddress.ip_network(
            peer["ipBlock"]["cidr"]
        )
    if source.ip is not None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": source.namespace}
        if not selector_matches(peer["namespaceSelector"], namespace_labels):
            return False
    elif source.namespace != namespace_of(policy):
        return False
    return "podSelector" not in peer or selector_matches(peer["podSelector"], source.labels)


@pytest.fixture(scope="module")
def cluster(deployed, prod):
    objects = deployed["prod"]
    found = {
        "prometheus": _operator_pod(objects, "Prometheus"),
        "alertmanager": _operator_pod(objects, "Alertmanager"),
        "grafana": _workload_pod(objects, "kube-prometheus-stack-grafana"),
        "collector": _workload_pod(objects, "otel-collector"),
        "loki": _workload_pod(objects, "loki"),
        "tempo": _workload_pod(objects, "tempo"),
        "alloy": _workload_pod(objects, "alloy"),
        "traefik": _workload_pod(objects, "traefik"),
        "statsd": _workload_pod(objects, "statsd-exporter"),
        "kube-state-metrics": _workload_pod(objects, "kube-prometheus-stack-kube-state-metrics"),
        "blackbox": _workload_pod(objects, "blackbox-exporter-prometheus-blackbox-exporter"),
        "postgres-exporter": _workload_pod(objects, "postgres-exporter-prometheus-postgres-exporter"),
    }
    subnet = ipaddress.ip_network(prod.config.network.private_subnet)
    endpoints = {name: endpoint for name, (endpoint, _) in found.items()}
    endpoints["ml-pod"] = Endpoint("ml", {"app": "finetune-abc"})
    endpoints["airflow-pod"] = Endpoint("airflow", {"component": "scheduler"})
    endpoints["host"] = Endpoint("", {}, ip=str(subnet.network_address + 12))
    endpoints["internet"] = Endpoint("", {}, ip="203.0.113.7")
    policies = [o for _, o in objects if o["kind"] == "NetworkPolicy"]
    return endpoints, {name: ports for name, (_, ports) in found.items()}, policies


# The architecture diagram (README) and the telemetry paths: who must reach what.
MUST = [
    ("collector", "prometheus", 9090, "TCP"),  # remote write of the hosts' and apps' metrics
    ("tempo", "prometheus", 9090, "TCP"),  # metrics generator: service graph
    ("grafana", "prometheus", 9090, "TCP"),
    ("prometheus", "alertmanager", 9093, "TCP"),
    ("grafana", "alertmanager", 9093, "TCP"),  # silences and the alerting UI
    ("alertmanager", "alertmanager", 9094, "TCP"),
    ("alertmanager", "alertmanager", 9094, "UDP"),
    ("alloy", "loki", 3100, "TCP"),
    ("collector", "loki", 3100, "TCP"),
    ("grafana", "loki", 3100, "TCP"),
    ("collector", "tempo", 4317, "TCP"),
    ("grafana", "tempo", 3200, "TCP"),
    ("traefik", "grafana", 3000, "TCP"),
    ("ml-pod", "collector", 4317, "TCP"),
    ("host", "collector", 4317, "TCP"),
    ("host", "collector", 4318, "TCP"),
    ("airflow-pod", "statsd", 9125, "UDP"),
    ("prometheus", "collector", 8888, "TCP"),
    ("prometheus", "loki", 3100, "TCP"),
    ("prometheus", "tempo", 3200, "TCP"),
    ("prometheus", "alloy", 12345, "TCP"),
    ("prometheus", "statsd", 9102, "TCP"),
    ("prometheus", "kube-state-metrics", 8080, "TCP"),
    ("prometheus", "blackbox", 9115, "TCP"),
    ("prometheus", "postgres-exporter", 9187, "TCP"),
]
# Flows that would let any workload forge metrics, silence alerts or read logs and traces.
MUST_NOT = [
    ("ml-pod", "prometheus", 9090, "TCP"),  # fake series through the remote-write receiver
    ("ml-pod", "alertmanager", 9093, "TCP"),  # silences
    ("airflow-pod", "alertmanager", 9093, "TCP"),
    ("ml-pod", "loki", 3100, "TCP"),
    ("ml-pod", "tempo", 3200, "TCP"),
    ("ml-pod", "grafana", 3000, "TCP"),
    ("host", "prometheus", 9090, "TCP"),
    ("host", "alertmanager", 9093, "TCP"),
    ("traefik", "prometheus", 9090, "TCP"),
    ("traefik", "alertmanager", 9093, "TCP"),
    ("collector", "alertmanager", 9093, "TCP"),
    ("internet", "collector", 4317, "TCP"),
    ("host", "statsd", 9125, "UDP"),  # statsd only from the workload namespaces
    ("host", "collector", 8888, "TCP"),
]


@pytest.mark.parametrize("source,target,port,protocol", MUST)
def test_the_architectures_flows_are_allowed(cluster, source, target, port, protocol):
    endpoints, ports, policies = cluster
    if target in ports:  # the port must be one the target's containers really listen on
        assert (port, protocol) in ports[target], f"{target} does not listen on {port}/{protocol}: {ports[target]}"
    assert allowed(policies, endpoints[source], endpoints[target], port, protocol)


@pytest.mark.parametrize("source,target,port,protocol", MUST_NOT)
def test_everything_else_is_refused(cluster, source, target, port, protocol):
    endpoints, _, policies = cluster
    assert not allowed(policies, endpoints[source], endpoints[target], port, protocol)


def test_every_policy_selects_rendered_pods_on_ports_they_listen_on(deployed):
    objects = deployed["prod"]
    listening = []
    for _, workload, pod in pods(objects):
        ports = {p["containerPort"] for c in containers(pod) for p in c.get("ports") or []}
        listening.append((namespace_of(workload), pod["metadata"].get("labels") or {}, ports))
    for kind, port_set in (("Prometheus", {9090, 8080}), ("Alertmanager", {9093, 9094, 8080})):
        [cr] = [o for _, o in objects if o["kind"] == kind]
        listening.append((namespace_of(cr), cr["spec"]["podMetadata"]["labels"], port_set))
    for policy in [o for _, o in objects if o["kind"] == "NetworkPolicy"]:
        selected = [
            ports
            for ns, labels, ports in listening
            if ns == namespace_of(policy) and selector_matches(policy["spec"]["podSelector"], labels)
        ]
        assert selected, f"{name_of(policy)} selects no pod"
        for rule in policy["spec"].get("ingress") or []:
            for port in rule.get("ports") or []:
                assert all(port["port"] in ports for ports in selected), f"{name_of(policy)}: nothing on {port}"
