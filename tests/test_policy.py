"""The policy pack: every policy passes on the resources of the mock renders, and reports a
violation on a resource changed to break it."""

from __future__ import annotations

import copy
import json
import sys

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

from conftest import ROOT, STACKS
from offline import engine as offline

sys.path.insert(0, str(ROOT / "policy"))
import trading_policies  # noqa: E402

POLICIES = {p.name: p for p in trading_policies.POLICIES}
CONFIG = json.loads((ROOT / "policy" / "config.json").read_text())


def as_args(
    registration: offline.Registration, props: dict | None = None, protect: bool | None = None, policy: str = ""
) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(
        protect=registration.protect if protect is None else protect,
        ignore_changes=registration.ignore_changes,
        delete_before_replace=False,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=registration.parent,
    )
    return ResourceValidationArgs(
        resource_type=registration.type,
        props=offline.unwrap(registration.inputs) if props is None else props,
        urn=registration.urn,
        name=registration.name,
        opts=opts,
        provider=None,
        config=CONFIG.get(policy, {}),
    )


def violations(policy: str, args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    POLICIES[policy].validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_every_policy_passes_on_the_stack(renders, stack, policy):
    for registration in renders[stack].resources:
        if registration.custom:
            assert violations(policy, as_args(registration, policy=policy)) == [], registration.name


def one(result, type_token: str, name: str | None = None) -> offline.Registration:
    return next(r for r in result.resources if r.type == type_token and (name is None or r.inputs.get("name") == name))


def test_unpinned_chart_version_is_a_violation(prod):
    release = one(prod, trading_policies.HELM_RELEASE, "loki")
    props = {**offline.unwrap(release.inputs), "version": ">=18.0.0"}
    assert violations("helm-chart-version-pinned", as_args(release, props))


def test_workload_without_limits_is_a_violation(prod):
    release = one(prod, trading_policies.HELM_RELEASE, "tempo")
    props = copy.deepcopy(offline.unwrap(release.inputs))
    del props["values"]["tempo"]["resources"]["limits"]
    [message] = violations("workloads-requests-and-limits", as_args(release, props))
    assert "tempo.resources" in message


def test_public_or_unmanaged_bucket_is_a_violation(prod):
    bucket = one(prod, "scaleway:object/bucket:Bucket")
    props = {**offline.unwrap(bucket.inputs), "acl": "public-read", "lifecycleRules": []}
    assert len(violations("buckets-private-and-expiring", as_args(bucket, props))) == 2


def test_unprotected_prod_host_is_a_violation(prod, dev):
    server = next(r for r in prod.resources if r.type == "scaleway:elasticmetal/server:Server")
    props = {**offline.unwrap(server.inputs), "protected": False}
    assert len(violations("prod-bare-metal-protected", as_args(server, props, protect=False))) == 2


def test_plaintext_secret_is_a_violation(prod):
    release = one(prod, trading_policies.HELM_RELEASE, "kube-prometheus-stack")
    props = copy.deepcopy(offline.unwrap(release.inputs))
    props["values"]["grafana"]["adminPassword"] = "hunter2-is-not-a-password"
    props["values"]["grafana"]["grafana.ini"]["slack"] = {"url": "https://hooks.slack.com/services/T0/B0/abcdef"}
    found = violations("no-plaintext-secrets", as_args(release, props))
    assert any("adminPassword" in m for m in found) and any("Slack webhook" in m for m in found)


def test_unlisted_load_balancer_is_a_violation(prod):
    release = one(prod, trading_policies.HELM_RELEASE, "loki")
    props = copy.deepcopy(offline.unwrap(release.inputs))
    props["values"]["gateway"]["service"] = {"type": "LoadBalancer"}
    [message] = violations("load-balancers-allowed", as_args(release, props, policy="load-balancers-allowed"))
    assert "monitoring/loki" in message
    traefik = one(prod, trading_policies.HELM_RELEASE, "traefik")
    args = as_args(traefik, policy="load-balancers-allowed")
    assert violations("load-balancers-allowed", args) == []
    strict = ResourceValidationArgs(
        args.resource_type, args.props, args.urn, args.name, args.opts, None, config={"allowed": []}
    )
    assert violations("load-balancers-allowed", strict)  # Traefik's default Service is a LoadBalancer


def test_the_pack_lists_every_policy():
    text = (ROOT / "policy" / "__main__.py").read_text()
    assert "PolicyPack(" in text and "POLICIES" in text
    assert len(POLICIES) == 6
