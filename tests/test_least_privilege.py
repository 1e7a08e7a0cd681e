"""Least privilege for the people and teams around the stack: who may reach the Kubernetes
API, how long the telemetry key lives, and the credentials that must not be replaced by
accident."""

from __future__ import annotations

import re

import yaml

import offline.engine as offline
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


def test_grafana_objects_are_managed_with_a_service_account_token_not_the_admin_password(renders):
    """Only the automation's service account and its token are made with the admin login; every
    folder, data source, dashboard, contact point and rule is made with the token, a secret in
    Grafana's own format ("glsa_" + 32 characters + "_" + 8 hex: Grafana's service-account
    docs, "Service account tokens")."""
    for stack, result in renders.items():
        providers = {r.urn: r for r in result.of_type("pulumi:providers:grafana")}
        by_auth = {offline.unwrap(p.inputs["auth"]): p for p in providers.values()}
        assert all(offline.is_secret(p.inputs["auth"]) for p in providers.values()), stack
        admin = by_auth[f"admin:{offline.GENERATED_PASSWORD}"]
        [token_provider] = [p for auth, p in by_auth.items() if re.fullmatch(r"glsa_\w{32}_[0-9a-f]{8}", auth)]
        assert set(by_auth) == {f"admin:{offline.GENERATED_PASSWORD}", offline.unwrap(token_provider.inputs["auth"])}

        grafana_objects = [r for r in result.resources if r.custom and r.type.startswith("grafana:")]
        # A provider reference is "<provider urn>::<provider id>" (and a URN holds "::" itself).
        made_by = {r.urn: r.provider.rsplit("::", 1)[0] for r in grafana_objects}
        as_admin = sorted(r.type for r in grafana_objects if made_by[r.urn] == admin.urn)
        assert as_admin == [
            "grafana:oss/serviceAccount:ServiceAccount",
            "grafana:oss/serviceAccountRotatingToken:ServiceAccountRotatingToken",
        ], stack
        with_token = [r.type for r in grafana_objects if made_by[r.urn] == token_provider.urn]
        assert len(with_token) == len(grafana_objects) - 2, stack
        assert {"grafana:oss/dashboard:Dashboard", "grafana:oss/dataSource:DataSource"} <= set(with_token)


def test_the_automation_is_an_org_admin_whose_token_expires_and_rotates_before_it_does(prod):
    [account] = prod.of_type("grafana:oss/serviceAccount:ServiceAccount")
    assert account.inputs["role"] == "Admin"  # org role: data sources need it; not a server admin
    [token] = prod.of_type("grafana:oss/serviceAccountRotatingToken:ServiceAccountRotatingToken")
    ttl, window = token.inputs["secondsToLive"], token.inputs["earlyRotationWindowSeconds"]
    assert 0 < window < ttl <= 180 * 86400
    assert window >= 28 * 86400, "a monthly deploy must land inside the rotation window"
    assert token.inputs["deleteOnDestroy"] is True
