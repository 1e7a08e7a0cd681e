"""What the cluster really runs: assertions on the manifests Helm renders from the pinned charts
with our values (offline/manifests.py), plus the objects the program declares itself, not on
the values we pass."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from components.observability import sizing
from conftest import STACKS
from offline import manifests
from offline.manifest_model import (
    containers,
    cpu_cores,
    kinds,
    matches,
    memory_mib,
    name_of,
    pods,
    replicas,
)

PERMANENT = ("platform.trading/pool", "permanent")


@pytest.mark.parametrize("stack", STACKS)
def test_every_builtin_object_is_valid_for_the_deployed_kubernetes(deployed, renders, stack):
    version = manifests.kubernetes_version_of(renders[stack])
    crd_kinds = {c["spec"]["names"]["kind"] for c in kinds(deployed[stack], "CustomResourceDefinition")}
    invalid = []
    for source, obj in deployed[stack]:
        if obj["kind"] in crd_kinds:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            invalid.append(f"{source}: {obj['kind']} {name_of(obj)}: {error.message[:200]}")
    assert not invalid, "\n".join(invalid)


def _nullable(schema):
    """OpenAPI's `nullable: true` as JSON Schema, recursively."""
    if isinstance(schema, dict):
        schema = {k: _nullable(v) for k, v in schema.items()}
        if schema.get("nullable") and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        return schema
    if isinstance(schema, list):
        return [_nullable(v) for v in schema]
    return schema


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_is_valid_against_its_crd(deployed, stack):
    crds = {}
    for crd in kinds(deployed[stack], "CustomResourceDefinition"):
        for version in crd["spec"]["versions"]:
            crds[(f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])] = _nullable(
                version["schema"]["openAPIV3Schema"]
            )
    checked, invalid = 0, []
    for source, obj in deployed[stack]:
        schema = crds.get((obj["apiVersion"], obj["kind"]))
        if schema is None:
            continue
        checked += 1
        for error in jsonschema.Draft7Validator(schema).iter_errors(obj):
            invalid.append(f"{source}: {obj['kind']} {name_of(obj)}: {error.json_path}: {error.message[:150]}")
    assert checked >= 10 and not invalid, "\n".join(invalid)


@pytest.mark.parametrize("stack", STACKS)
def test_every_container_requests_and_limits_cpu_and_memory(deployed, stack):
    missing = []
    for source, obj, pod in pods(deployed[stack]):
        for c in containers(pod):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (res.get(part) or {}):
                        missing.append(f"{source}: {name_of(obj)}/{c['name']} {part}.{resource}")
    for _, cr in [(s, o) for s, o in deployed[stack] if o["kind"] in ("Prometheus", "Alertmanager")]:
        res = cr["spec"].get("resources") or {}
        assert all(r in (res.get(p) or {}) for p in ("requests", "limits") for r in ("cpu", "memory")), name_of(cr)
    assert not missing, "\n".join(missing)


def _reloader_requests(objects) -> tuple[float, float]:
    """The config-reloader sidecar the operator adds to Prometheus and Alertmanager pods."""
    [operator] = [
        o
        for _, o in objects
        if o["kind"] == "Deployment" and "operator" in name_of(o) and "prometheus" in str(o["metadata"].get("labels"))
    ]
    args = dict(
        a.lstrip("-").split("=", 1) for a in operator["spec"]["template"]["spec"]["containers"][0]["args"] if "=" in a
    )
    return cpu_cores(args["config-reloader-cpu-request"]), memory_mib(args["config-reloader-memory-request"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_capacity_check_counts_exactly_what_is_deployed_on_the_permanent_node(deployed, renders, stack):
    cpu = memory = 0.0
    for _, obj, pod in pods(deployed[stack]):
        spec = pod["spec"]
        on_permanent = matches(dict([PERMANENT]), spec.get("nodeSelector"))
        assert on_permanent or obj["kind"] == "DaemonSet", f"{name_of(obj)} may land on any node"
        requests = [c["resources"]["requests"] for c in containers(pod)]
        cpu += replicas(obj) * sum(cpu_cores(r["cpu"]) for r in requests)
        memory += replicas(obj) * sum(memory_mib(r["memory"]) for r in requests)
    reloader_cpu, reloader_memory = _reloader_requests(deployed[stack])
    for cr in kinds(deployed[stack], "Prometheus") + kinds(deployed[stack], "Alertmanager"):
        count = int(cr["spec"].get("replicas", 1))
        cpu += count * (cpu_cores(cr["spec"]["resources"]["requests"]["cpu"]) + reloader_cpu)
        memory += count * (memory_mib(cr["spec"]["resources"]["requests"]["memory"]) + reloader_memory)
    config = renders[stack].config
    node = config.node_allocatable[config.permanent_pool.node_type]
    usage = sizing.permanent_pool_usage(config.permanent_pool.size, node.cpu, node.memory_gib)
    assert usage.cpu_requested == pytest.approx(cpu, abs=1e-6)
    assert usage.memory_requested_mib == pytest.approx(memory, abs=1e-6)


@pytest.mark.parametrize("stack", STACKS)
def test_every_pod_has_the_priority_its_role_needs(deployed, stack):
    declared = {name_of(p): p["value"] for p in kinds(deployed[stack], "PriorityClass")}
    high = declared["high-priority"]
    for cr in kinds(deployed[stack], "Prometheus") + kinds(deployed[stack], "Alertmanager"):
        assert declared[cr["spec"]["priorityClassName"]] > high, f"{name_of(cr)} can be preempted by high-priority"
    for source, obj, pod in pods(deployed[stack]):
        priority_class = pod["spec"].get("priorityClassName")
        if obj["kind"] == "DaemonSet":
            assert priority_class == "system-node-critical", f"{source}: {name_of(obj)} is a node agent"
        else:
            assert priority_class in declared, f"{source}: {name_of(obj)} has priority class {priority_class!r}"


# Containers whose image cannot run with a read-only root filesystem, and why.
WRITABLE_ROOT = {
    ("kube-prometheus-stack-grafana", "grafana"): "Grafana writes plugin and session files outside its volume",
    ("kube-prometheus-stack-grafana", "grafana-sc-dashboard"): "the sidecar writes dashboards to a shared path",
}


def _effective(container: dict, pod: dict, key: str):
    return (container.get("securityContext") or {}).get(key, (pod["spec"].get("securityContext") or {}).get(key))


@pytest.mark.parametrize("stack", STACKS)
def test_pods_run_as_non_root_with_read_only_root_filesystems(deployed, stack):
    problems = []
    for source, obj, pod in pods(deployed[stack]):
        for c in containers(pod):
            non_root = _effective(c, pod, "runAsNonRoot") is True or _effective(c, pod, "runAsUser") not in (None, 0)
            if not non_root:
                problems.append(f"{source}: {name_of(obj)}/{c['name']} may run as root")
            read_only = (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is True
            if not read_only and (name_of(obj), c["name"]) not in WRITABLE_ROOT:
                problems.append(f"{source}: {name_of(obj)}/{c['name']} has a writable root filesystem")
    assert not problems, "\n".join(problems)


# Components that must read Secrets across namespaces, and why; nobody else may.
READS_SECRETS_CLUSTER_WIDE = {
    "cert-manager-controller-certificates": "writes each Certificate's key pair into its namespace",
    "cert-manager-controller-issuers": "reads issuers' credentials",
    "cert-manager-controller-clusterissuers": "reads ClusterIssuers' account keys",
    "cert-manager-controller-challenges": "reads solver credentials",
    "cert-manager-controller-orders": "reads the ACME account key of each order",
    "cert-manager-cainjector": "injects CA bundles from Secrets",
    "traefik-traefik": "serves the TLS certificate Secret of every Ingress",
    "kube-prometheus-stack-operator": "writes Prometheus's and Alertmanager's generated configuration Secrets",
}


@pytest.mark.parametrize("stack", STACKS)
def test_no_service_account_reads_secrets_cluster_wide_unless_it_must(deployed, stack):
    readers = set()
    for role in kinds(deployed[stack], "ClusterRole"):
        for rule in role.get("rules") or []:
            core = set(rule.get("apiGroups") or []) & {"", "*"}
            secrets = set(rule.get("resources") or []) & {"secrets", "*"}
            reads = set(rule.get("verbs") or []) & {"get", "list", "watch", "*"}
            if core and secrets and reads:
                readers.add(name_of(role))
    assert readers == set(READS_SECRETS_CLUSTER_WIDE), (
        sorted(readers - set(READS_SECRETS_CLUSTER_WIDE)),
        sorted(set(READS_SECRETS_CLUSTER_WIDE) - readers),
    )


@pytest.mark.parametrize("stack", STACKS)
def test_no_container_sets_an_environment_variable_twice(deployed, stack):
    for source, obj, pod in pods(deployed[stack]):
        for c in containers(pod):
            names = [e["name"] for e in c.get("env") or []]
            assert len(names) == len(set(names)), f"{source}: {name_of(obj)}/{c['name']}: {names}"


@pytest.mark.parametrize("stack", STACKS)
def test_volumes_use_the_configured_class_and_protected_stacks_retain_their_disks(deployed, renders, stack):
    config = renders[stack].config
    classes = [p["spec"]["storageClassName"] for p in kinds(deployed[stack], "PersistentVolumeClaim")]
    for _, obj in deployed[stack]:
        if obj["kind"] == "StatefulSet":
            classes += [t["spec"]["storageClassName"] for t in obj["spec"].get("volumeClaimTemplates") or []]
        if obj["kind"] in ("Prometheus", "Alertmanager"):
            classes.append(obj["spec"]["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"])
    assert len(classes) >= 5  # Prometheus, Alertmanager, Grafana, Loki, Tempo
    assert set(classes) == {config.observability.storage_class}
    if config.protect_stateful:
        assert config.observability.storage_class.endswith("-retain")


@pytest.mark.parametrize("stack", STACKS)
def test_node_agents_run_on_every_node_tainted_pools_included(deployed, renders, stack):
    taints = [
        {"key": t["key"], "effect": t["effect"]}
        for pool in renders[stack].of_type("scaleway:kubernetes/pool:Pool")
        for t in pool.inputs.get("taints") or []
    ]
    assert taints, "the compute pool is tainted"
    for _, agent in [(s, o) for s, o in deployed[stack] if o["kind"] == "DaemonSet"]:
        tolerations = agent["spec"]["template"]["spec"].get("tolerations") or []
        for taint in taints:
            assert any(t.get("key") == taint["key"] and t.get("operator") == "Exists" for t in tolerations), (
                f"{name_of(agent)} does not tolerate {taint['key']}"
            )


def test_loki_runs_as_one_single_binary_statefulset(deployed):
    loki = [o for s, o in deployed["prod"] if s == "loki" and o["kind"] in ("StatefulSet", "Deployment")]
    assert [(o["kind"], name_of(o), o["spec"]["replicas"]) for o in loki] == [("StatefulSet", "loki", 1)]
