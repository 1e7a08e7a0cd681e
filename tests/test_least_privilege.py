"""Least privilege for the people and teams around the stack: who may reach the Kubernetes
API, how long the telemetry key lives, and the credentials that must not be replaced by
accident."""

from __future__ import annotations

import yaml

from conftest import ROOT

ACL = "scaleway:kubernetes/acl:Acl"


def stack_config(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_the_prod_api_answers_only_the_allow_list_and_scaleways_ranges(prod):
    [acl] = prod.of_type(ACL)
    [cluster] = prod.of_type("scaleway:kubernetes/cluster:Cluster")
    assert acl.inputs["clusterId"] == f"{cluster.name}-id"
    rules = acl.inputs["aclRules"]
    allowed = {r["ip"] for r in rules if "ip" in r}
    assert allowed == set(stack_config("prod")["trading-platform:apiAllowList"])
    assert [r for r in rules if r.get("scalewayRanges")] == [
        {"scalewayRanges": True, "description": "Scaleway ranges: nodes"}
    ]
    assert "0.0.0.0/0" not in allowed


def test_dev_without_an_allow_list_declares_no_acl(dev):
    assert not dev.of_type(ACL)


def test_the_telemetry_key_expires_on_the_configured_day(renders):
    for stack, result in renders.items():
        [key] = result.of_type("scaleway:iam/apiKey:ApiKey")
        assert key.inputs["expiresAt"] == f"{stack_config(stack)['trading-platform:telemetryKeyExpiresOn']}T00:00:00Z"


def test_the_grafana_admin_password_cannot_be_replaced_in_prod(prod, dev):
    [password] = prod.of_type("random:index/randomPassword:RandomPassword")
    assert password.protect
    assert not dev.of_type("random:index/randomPassword:RandomPassword")[0].protect


def test_the_kubernetes_provider_waits_for_the_acl(prod):
    """A deploy runner outside the allow-list must fail before the first object, not halfway."""
    [acl] = prod.of_type(ACL)
    provider = prod.one("pulumi:providers:kubernetes", "cluster-k8s")
    assert acl.urn in provider.depends_on
