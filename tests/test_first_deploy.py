"""What a first real `pulumi up` on a fresh Scaleway project meets, checked against the
provider's and the API's own rules (terraform-provider-scaleway at commit b2d45ed, 2026-08-21,
and the field notes of November 2026), on the resources the program really registers.

Resources are identified by what they are (type and inputs), never by the program's names or
constants, and the dependency graph is the one the mock engine recorded: explicit
``depends_on`` plus every Output an input was built from.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import yaml

from components.config import InvalidConfig
from components.scaleway import kubernetes_versions
from conftest import ROOT, STACKS
from offline import engine as offline
from offline.scaleway_api import recorded_offer

CLUSTER = "scaleway:kubernetes/cluster:Cluster"
POOL = "scaleway:kubernetes/pool:Pool"
GATEWAY_NETWORK = "scaleway:network/gatewayNetwork:GatewayNetwork"
HELM = "kubernetes:helm.sh/v3:Release"


def reachable(result: offline.RenderResult, urn: str) -> set[str]:
    """Every resource ``urn`` waits for, directly or through others."""
    by_urn = {r.urn: r for r in result.resources}
    seen: set[str] = set()
    todo = [urn]
    while todo:
        for dep in by_urn[todo.pop()].depends_on:
            if dep not in seen and dep in by_urn:
                seen.add(dep)
                todo.append(dep)
    return seen


def pools(result: offline.RenderResult) -> list[offline.Registration]:
    return result.of_type(POOL)


# ---- 2. creation order ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_pools_that_may_start_empty_wait_for_a_pool_with_nodes(renders, stack):
    """Kapsule: "a mutualized cluster cannot have less than 1 node" (field notes, Nov 2026).
    Before the fix the compute pool (created at size 0) depended on the cluster only."""
    result = renders[stack]
    with_nodes = {p.urn for p in pools(result) if p.inputs["size"] >= 1 and not p.inputs["autoscaling"]}
    assert with_nodes, "no pool is created with nodes"
    for pool in pools(result):
        if pool.urn in with_nodes:
            continue
        assert reachable(result, pool.urn) & with_nodes, f"{pool.inputs['name']} is created before any node exists"


@pytest.mark.parametrize("stack", STACKS)
def test_the_cluster_waits_for_the_gateway_of_its_private_network(renders, stack):
    """Pools with ``public_ip_disabled`` need the Public Gateway attached to the private network
    before the cluster exists (field notes, Nov 2026)."""
    result = renders[stack]
    [cluster] = result.of_type(CLUSTER)
    attached = [
        g for g in result.of_type(GATEWAY_NETWORK) if g.inputs["privateNetworkId"] == cluster.inputs["privateNetworkId"]
    ]
    assert attached, "no Public Gateway is attached to the cluster's private network"
    assert all(p.inputs["publicIpDisabled"] for p in pools(result))
    assert {g.urn for g in attached} & reachable(result, cluster.urn)


# ---- 1. Kubernetes version -----------------------------------------------------------------

# From the field notes (the API's end-of-life dates), not from kubernetes_versions.yaml.
END_OF_LIFE = {"1.33": dt.date(2026, 9, 4), "1.34": dt.date(2026, 9, 29), "1.35": dt.date(2027, 1, 19)}


def version_problems(version: str, auto_upgrade: bool, today: dt.date) -> list[str]:
    stack_file = offline.read_stack_file("prod", {"kubernetesVersion": version, "autoUpgrade": auto_upgrade})
    from components import preflight

    try:
        cfg = preflight.validate(stack_file.values, stack_file.secret_keys, "prod", recorded_offer)
    except InvalidConfig as problems:
        return [str(p) for p in problems.problems if p.key == "kubernetesVersion"]
    return [str(p) for p in kubernetes_versions.version_problems(cfg, today)]


def test_the_known_end_of_life_dates_match_the_api():
    assert kubernetes_versions.end_of_life() == END_OF_LIFE


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_asks_for_a_version_kapsule_creates_today(stack):
    """Before the fix both stacks asked for 1.33, which Kapsule stopped creating on 2026-09-04."""
    version = offline.read_stack_file(stack).values["kubernetesVersion"]  # defaults merged, as Pulumi does
    minor = ".".join(version.split(".")[:2])
    assert END_OF_LIFE[minor] >= dt.date(2026, 11, 24), version


@pytest.mark.parametrize(
    "version,auto_upgrade,today,fragment",
    [
        ("1.33", True, dt.date(2026, 11, 24), "reached end of life on 2026-09-04"),
        ("1.34", True, dt.date(2026, 11, 24), "reached end of life on 2026-09-29"),
        ("1.35", True, dt.date(2027, 1, 20), "reached end of life on 2027-01-19"),
        ("1.35.2", True, dt.date(2026, 11, 24), "a bare minor (1.35) while autoUpgrade is true"),
        ("1.35", False, dt.date(2026, 11, 24), "a patch version such as 1.35.0 while autoUpgrade is false"),
        ("1.40", True, dt.date(2026, 11, 24), "a Kapsule minor listed in kubernetes_versions.yaml"),
    ],
)
def test_versions_kapsule_refuses_are_refused_before_any_resource(version, auto_upgrade, today, fragment):
    problems = version_problems(version, auto_upgrade, today)
    assert any(fragment in p for p in problems), problems
    assert all(p.startswith(f"trading-platform:kubernetesVersion = '{version}'") for p in problems)


@pytest.mark.parametrize("version,auto_upgrade", [("1.35", True), ("1.35.2", False)])
def test_versions_kapsule_accepts_pass(version, auto_upgrade):
    assert version_problems(version, auto_upgrade, dt.date(2026, 11, 24)) == []


def test_an_expired_version_stops_the_program_before_any_resource(monkeypatch):
    monkeypatch.setattr(kubernetes_versions, "end_of_life", lambda: {"1.35": dt.date(2026, 1, 1)})
    with pytest.raises(offline.ProgramRefused) as refused:
        offline.run("prod")
    assert refused.value.registrations == []


# ---- 3. organization id --------------------------------------------------------------------


def test_iam_resources_name_their_organization(prod):
    """Provider PR #4332 (2026-09-08) made the organization mandatory for IAM resources."""
    configured = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["trading-platform:organizationId"]
    iam = [
        r for r in prod.resources if r.type in ("scaleway:iam/application:Application", "scaleway:iam/policy:Policy")
    ]
    assert len(iam) == 2
    assert all(r.inputs["organizationId"] == configured for r in iam)


# ---- 4. bucket names -----------------------------------------------------------------------

# Scaleway Object Storage bucket names: 3 to 63 characters, lowercase letters, digits and
# hyphens, starting and ending with a letter or a digit (Scaleway docs, "Bucket naming rules").
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def bucket_names(result: offline.RenderResult) -> list[str]:
    return sorted(b.inputs["name"] for b in result.of_type("scaleway:object/bucket:Bucket"))


@pytest.mark.parametrize("stack", STACKS)
def test_bucket_names_are_suffixed_valid_and_stable_across_renders(renders, stack):
    first = bucket_names(renders[stack])
    again = bucket_names(offline.run(stack))
    assert first == again
    suffix = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["trading-platform:bucketSuffix"]
    for name in first:
        assert BUCKET_NAME.match(name), name
        assert name.endswith(f"-{suffix}") and len(suffix) >= 8, name


def test_stacks_never_share_a_bucket_name(renders):
    names = [n for stack in STACKS for n in bucket_names(renders[stack])]
    assert len(names) == len(set(names))


# ---- 5. upgrades ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_fixed_pools_upgrade_by_surging_a_node_first(renders, stack):
    """The default policy (surge 0, unavailable 1) takes the single permanent node down at
    each upgrade, and with it Prometheus and Alertmanager."""
    for pool in pools(renders[stack]):
        if not pool.inputs["autoscaling"] and pool.inputs["size"] == 1 and not pool.inputs.get("taints"):
            assert pool.inputs["upgradePolicy"] == {"maxSurge": 1, "maxUnavailable": 0}


# ---- 6. the telemetry gateway's load balancer -----------------------------------------------


def test_the_service_bound_to_the_pulumi_load_balancer_is_externally_managed(prod):
    [lb] = prod.of_type("scaleway:loadbalancers/loadBalancer:LoadBalancer")
    bound = []
    for release in prod.of_type(HELM):
        text = json.dumps(offline.unwrap(release.inputs.get("values") or {}))
        if f"{lb.name}-id" in text:  # the mocks answer a resource's id as "<name>-id"
            bound.append(offline.unwrap(release.inputs["values"])["service"]["annotations"])
    assert bound, "no Service binds to the load balancer"
    for service_annotations in bound:
        assert service_annotations["service.beta.kubernetes.io/scw-loadbalancer-id"] == f"{lb.name}-id"
        assert service_annotations["service.beta.kubernetes.io/scw-loadbalancer-externally-managed"] == "true"
