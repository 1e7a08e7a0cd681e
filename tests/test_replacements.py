"""Every input that forces the replacement of a stateful or address-bearing resource, and what
the program does about each in prod: protect it, make the replacement safe, or refuse the
change in validation.

REPLACED_BY is read from terraform-provider-scaleway at commit b2d45ed (2026-08-21): the
``ForceNew: true`` schema fields of each resource, plus ``zone``/``region``, which
``internal/locality/{zonal,regional}/schemas.go`` declare ForceNew for every resource.  Input
names are the Pulumi (camelCase) ones.
"""

from __future__ import annotations

import pytest

from components import preflight
from components.config import InvalidConfig
from conftest import ROOT
from offline import engine as offline
from offline.scaleway_api import recorded_offer

REPLACED_BY = {
    # internal/services/vpc/vpc.go, private_network.go
    "scaleway:network/vpc:Vpc": {"region"},
    "scaleway:network/privateNetwork:PrivateNetwork": {"vpcId", "ipv4Subnet", "region"},
    # internal/services/vpcgw/ip.go: the egress address trading venues whitelist
    "scaleway:network/publicGatewayIp:PublicGatewayIp": {"zone"},
    # internal/services/ipam/ip.go: the hosts' and the telemetry gateway's private addresses
    "scaleway:ipam/ip:Ip": {"address", "region"},
    # internal/services/k8s/cluster.go
    "scaleway:kubernetes/cluster:Cluster": {"cni", "podCidr", "serviceCidr", "serviceDnsIp", "region"},
    # internal/services/k8s/pool.go
    "scaleway:kubernetes/pool:Pool": {
        "clusterId",
        "name",
        "nodeType",
        "containerRuntime",
        "placementGroupId",
        "publicIpDisabled",
        "rootVolumeType",
        "rootVolumeSizeInGb",
        "zone",
        "region",
    },
    # internal/services/object/bucket.go
    "scaleway:object/bucket:Bucket": {"name", "objectLockEnabled", "region"},
    # internal/services/baremetal/server.go: zone only; an `os` change reinstalls in place
    "scaleway:elasticmetal/server:Server": {"zone"},
}


def replaceable(result: offline.RenderResult) -> list[tuple[offline.Registration, set[str]]]:
    """Each stateful or address-bearing resource with the inputs it sets that force a replacement."""
    return [(r, REPLACED_BY[r.type] & set(r.inputs)) for r in result.resources if r.type in REPLACED_BY]


def is_scale_to_zero_pool(resource: offline.Registration) -> bool:
    return resource.type.endswith("pool:Pool") and resource.inputs["minSize"] == 0


def test_every_replaceable_resource_sets_inputs_that_would_replace_it(prod):
    found = replaceable(prod)
    assert {r.type for r, _ in found} == set(REPLACED_BY), "a stateful type is no longer declared: update the table"
    assert all(inputs for _, inputs in found)


def test_in_prod_every_stateful_or_address_bearing_resource_is_protected_or_safe(prod):
    """Protected, except pools that hold no state: they must be replaceable create-before-delete."""
    for resource, _ in replaceable(prod):
        if resource.protect:
            continue
        assert resource.type == "scaleway:kubernetes/pool:Pool", f"{resource.type} {resource.name} is not protected"
        # Pulumi replaces create-before-delete by default; Kapsule refuses two pools of one
        # name in a cluster, so a node-type change must change the name too.
        assert resource.inputs["nodeType"].lower() in resource.inputs["name"], resource.inputs["name"]
        assert not is_scale_to_zero_pool(resource) or resource.ignore_changes == ["size"]


def test_in_dev_nothing_is_protected(dev):
    assert not [r.name for r, _ in replaceable(dev) if r.protect]


def test_the_monitoring_namespace_that_holds_the_volumes_is_protected_in_prod(prod, dev):
    namespaces = {r.inputs["metadata"]["name"]: r for r in prod.of_type("kubernetes:core/v1:Namespace")}
    assert namespaces["monitoring"].protect
    assert not [n for n, r in namespaces.items() if r.protect and n != "monitoring"]
    assert not [r for r in dev.of_type("kubernetes:core/v1:Namespace") if r.protect]


@pytest.mark.parametrize(
    "key,value,replaces",
    [
        ("podCidr", "100.96.0.0/15", "the Kapsule cluster"),
        ("serviceCidr", "10.48.0.0/20", "the Kapsule cluster"),
        ("privateSubnet", "172.16.20.0/22", "the private network"),
    ],
)
def test_a_range_change_in_prod_is_refused_by_validation_with_what_it_would_replace(key, value, replaces):
    stack_file = offline.read_stack_file("prod", {key: value})
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(stack_file.values, stack_file.secret_keys, "prod", recorded_offer)
    [problem] = [str(p) for p in caught.value.problems if p.key == key]
    assert problem.startswith(f"trading-platform:{key} = '{value}': the deployed range ")
    assert replaces in problem and "README 'Replacements'" in problem


def test_a_range_change_in_an_unprotected_stack_is_allowed():
    stack_file = offline.read_stack_file("dev", {"podCidr": "100.96.0.0/15"})
    preflight.validate(stack_file.values, stack_file.secret_keys, "dev", recorded_offer)


def test_a_protected_stack_must_record_its_deployed_ranges():
    stack_file = offline.read_stack_file("prod", {"deployedNetwork": None})
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(stack_file.values, stack_file.secret_keys, "prod", recorded_offer)
    keys = {p.key for p in caught.value.problems}
    assert {"deployedNetwork.privateSubnet", "deployedNetwork.podCidr", "deployedNetwork.serviceCidr"} <= keys


def test_readme_says_what_each_replacement_does():
    text = (ROOT / "README.md").read_text()
    section = text.split("### Replacements", 1)[1].split("\n## ", 1)[0]
    for type_token in REPLACED_BY:
        assert f"`{type_token.rsplit(':', 1)[1]}`" in section, type_token
