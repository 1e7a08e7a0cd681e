"""Stack configuration: every bad value is reported with its key, its value and what is allowed;
all problems at once; before any resource; never as a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from components import config, preflight
from conftest import ROOT, host, on_call
from offline import engine as offline
from offline.scaleway_api import recorded_offer


def prod_raw(**overrides):
    stack_file = offline.read_stack_file("prod")
    values = dict(stack_file.values)
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value if isinstance(value, str) else json.dumps(value)
    return values, stack_file.secret_keys


def problems_of(**overrides) -> list[config.Problem]:
    values, secret_keys = prod_raw(**overrides)
    with pytest.raises(config.InvalidConfig) as caught:
        preflight.validate(values, secret_keys, "prod", recorded_offer)
    return caught.value.problems


# (id, overrides, key named in the message, fragment of "what is allowed")
BAD_INPUTS = [
    ("region unknown", {"region": "us-east-1"}, "region", "fr-par, nl-ams, pl-waw"),
    ("zone of another region", {"zone": "nl-ams-1"}, "zone", "fr-par-1"),
    ("subnet not a CIDR", {"privateSubnet": "172.16.16.0/33"}, "privateSubnet", "CIDR"),
    ("subnet with host bits", {"privateSubnet": "172.16.16.5/22"}, "privateSubnet", "no host bits"),
    ("subnet public", {"privateSubnet": "8.8.8.0/24"}, "privateSubnet", "RFC 1918"),
    ("subnet overlaps pods", {"privateSubnet": "100.64.0.0/22"}, "privateSubnet", "must not overlap podCidr"),
    ("service overlaps subnet", {"serviceCidr": "172.16.16.0/24"}, "privateSubnet", "must not overlap serviceCidr"),
    ("ssh allow list entry", {"sshAllowList": ["203.0.113.0/28", "office"]}, "sshAllowList[1]", "CIDR"),
    ("ssh open to the world", {"sshAllowList": ["0.0.0.0/0"]}, "sshAllowList[0]", "not the whole internet"),
    ("kubernetes version", {"kubernetesVersion": "latest"}, "kubernetesVersion", "such as 1.35"),
    ("maintenance day", {"maintenanceDay": "someday"}, "maintenanceDay", "sunday"),
    ("maintenance hour", {"maintenanceStartHour": "25"}, "maintenanceStartHour", "0 to 23"),
    (
        "autoscaler duration",
        {"autoscalerScaleDownUnneededTime": "five minutes"},
        "autoscalerScaleDownUnneededTime",
        "duration",
    ),
    ("autoscaler expander", {"autoscalerExpander": "cheapest"}, "autoscalerExpander", "least_waste"),
    ("empty node type", {"permanentPoolNodeType": ""}, "permanentPoolNodeType", "node type"),
    ("permanent pool of zero", {"permanentPoolSize": "0"}, "permanentPoolSize", "1 to 100"),
    (
        "compute max below min",
        {"computePoolMinSize": "3", "computePoolMaxSize": "2"},
        "computePoolMaxSize",
        "at least computePoolMinSize",
    ),
    ("compute min negative", {"computePoolMinSize": "-1"}, "computePoolMinSize", "0 to 100"),
    (
        "node type without price",
        {"computePoolNodeType": "GP1-XL"},
        "computePoolNodeType",
        "priced in components/scaleway/prices.yaml",
    ),
    ("host role unknown", {"criticalPathHosts": [host(role="risk")]}, "criticalPathHosts[0].role", "market-data"),
    ("host role twice", {"criticalPathHosts": [host(), host()]}, "criticalPathHosts[1].role", "each role once"),
    ("host offer empty", {"criticalPathHosts": [host(offer="")]}, "criticalPathHosts[0].offer", "non-empty"),
    (
        "isolated cores syntax",
        {"criticalPathHosts": [host(isolatedCores="2..7")]},
        "criticalPathHosts[0].isolatedCores",
        "2-7,10",
    ),
    (
        "isolated cores outside host",
        {"criticalPathHosts": [host(isolatedCores="2-19")]},
        "criticalPathHosts[0].isolatedCores",
        "0-3",
    ),
    (
        "no core left to isolate",
        {"criticalPathHosts": [host(housekeepingCores=4)]},
        "criticalPathHosts[0].housekeepingCores",
        "at least one core must be isolated",
    ),
    (
        "housekeeping core isolated",
        {"criticalPathHosts": [host(isolatedCores="0-3")]},
        "criticalPathHosts[0].isolatedCores",
        "housekeeping cores",
    ),
    (
        "huge pages negative",
        {"criticalPathHosts": [host(hugepages1G=-2)]},
        "criticalPathHosts[0].hugepages1G",
        "0 to 1024",
    ),
    ("hosts without ssh keys", {"sshKeyIds": []}, "sshKeyIds", "SSH key"),
    ("retention duration", {"prometheusRetention": "10 days"}, "prometheusRetention", "10d"),
    ("retention size unit", {"prometheusRetentionSize": "40G"}, "prometheusRetentionSize", "GiB"),
    (
        "retention size over volume",
        {"prometheusRetentionSize": "50GiB"},
        "prometheusRetentionSize",
        "90% of prometheusVolumeSize",
    ),
    # Phone rules as PagerDuty's provider enforces them (on_call_keys.py cites the source).
    (
        "phone national form",
        {"onCall": on_call({"phone": "06 12 34 56 78"})},
        "onCall.rotation[0].phone",
        "+33 612345678",
    ),
    (
        "phone with trunk prefix",
        {"onCall": on_call({"phone": "+33 0612345678"})},
        "onCall.rotation[0].phone",
        "trunk prefix '0'",
    ),
    (
        "us phone with its 1",
        {"onCall": on_call({"phone": "+1 12125550100"}, at="rotation[1]")},
        "onCall.rotation[1].phone",
        "trunk prefix '1'",
    ),
    (
        "same person twice",
        {"onCall": on_call({"email": "camille.durand@trading.example.com"}, at="rotation[2]")},
        "onCall.rotation[2].email",
        "each person once",
    ),
    (
        "rotation of one",
        {"onCall": on_call(rotation=[on_call()["rotation"][0]])},
        "onCall.rotation",
        "at least two people",
    ),
    ("shift too long", {"onCall": on_call(rotationDays=400)}, "onCall.rotationDays", "1 to 365"),
    ("time zone abbreviation", {"onCall": on_call(timeZone="CET+1")}, "onCall.timeZone", "IANA"),
    ("handover without offset", {"onCall": on_call(handover="2026-12-07T09:00:00")}, "onCall.handover", "UTC offset"),
    (
        "lead without email",
        {"onCall": on_call({"email": "hugo"}, at="incidentLead")},
        "onCall.incidentLead.email",
        "e-mail",
    ),
    (
        "person field misspelt",
        {"onCall": on_call({"phnoe": "+33 600000001"})},
        "onCall.rotation[0].phnoe",
        "did you mean phone?",
    ),
    ("prod paging nobody", {"onCall": None}, "onCall", "a protected stack pages its on-call"),
    ("runbook url http", {"runbookBaseUrl": "http://wiki.example.com/runbooks"}, "runbookBaseUrl", "https://"),
    ("slack channel", {"slackChannel": "cvntrade-alerts"}, "slackChannel", "#cvntrade-alerts"),
    ("grafana domain", {"grafanaDomain": "https://grafana.example.com"}, "grafanaDomain", "DNS name"),
    ("organization id", {"organizationId": "my-org"}, "organizationId", "UUID"),
    ("organization id missing", {"organizationId": None}, "organizationId", "UUID"),
    ("bucket suffix guessable", {"bucketSuffix": "prod"}, "bucketSuffix", "8 to 16 lowercase"),
    ("misspelt key", {"computePoolMaxSzie": "3"}, "computePoolMaxSzie", "did you mean computePoolMaxSize?"),
    ("workload namespace", {"workloadNamespaces": ["ml", "Risk_Service"]}, "workloadNamespaces[1]", "DNS label"),
    ("environment", {"environment": "production"}, "environment", "dev, staging, prod"),
    ("prod unprotected", {"protectStateful": "false"}, "protectStateful", "which is protected by name"),
    ("secret missing", {"slackWebhookUrl": None}, "slackWebhookUrl", "pulumi config set --secret slackWebhookUrl"),
]


@pytest.mark.parametrize("overrides,key,allowed", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_value_names_key_value_and_what_is_allowed(overrides, key, allowed):
    problems = problems_of(**overrides)
    matching = [p for p in problems if p.key == key]
    assert matching, f"no problem names {key!r}: {[str(p) for p in problems]}"
    texts = [str(p) for p in matching]
    assert all(t.startswith(f"trading-platform:{key} = ") for t in texts), texts
    assert any(allowed in t for t in texts), texts


def test_there_are_at_least_25_distinct_bad_inputs():
    assert len({c[0] for c in BAD_INPUTS}) >= 25


def test_every_problem_is_reported_at_once():
    problems = problems_of(
        region="mars",
        maintenanceStartHour="99",
        onCall=on_call({"phone": "0612"}),
        computePoolMinSize="4",
        computePoolMaxSize="2",
        prometheusRetention="forever",
    )
    keys = {p.key for p in problems}
    assert {
        "region",
        "maintenanceStartHour",
        "onCall.rotation[0].phone",
        "computePoolMaxSize",
        "prometheusRetention",
    } <= keys


def test_a_bad_value_is_shown_in_the_message():
    [problem] = [p for p in problems_of(maintenanceDay="caturday") if p.key == "maintenanceDay"]
    assert problem.value == "'caturday'"


def test_a_secret_value_is_never_echoed():
    values, secret_keys = prod_raw(slackWebhookUrl="http://hooks.example.com/leaky-token-123")
    with pytest.raises(config.InvalidConfig) as caught:
        preflight.validate(values, secret_keys, "prod", recorded_offer)
    assert "leaky-token-123" not in caught.value.report()
    assert "slackWebhookUrl = [secret]" in caught.value.report()


def test_a_secret_stored_in_plaintext_is_refused():
    values, secret_keys = prod_raw()
    with pytest.raises(config.InvalidConfig) as caught:
        config.load(values, secret_keys - {"grafanaPostgresPassword"}, "prod")
    [problem] = caught.value.problems
    assert problem.key == "grafanaPostgresPassword" and "must be stored encrypted" in str(problem)
    assert offline.PLACEHOLDERS["grafanaPostgresPassword"] not in caught.value.report()


def test_valid_config_parses_cpu_lists_and_sizes():
    values, secret_keys = prod_raw()
    cfg = config.load(values, secret_keys, "prod")
    order = next(h for h in cfg.critical_path_hosts if h.role == "order-management")
    assert order.housekeeping_cores == 2 and order.isolated_cores is None  # derived from the offer
    assert order.hot_threads == ("order-router", "venue-session", "drop-copy")
    assert config.parse_cpu_list("2-4,7,9-10") == (2, 3, 4, 7, 9, 10)
    assert config.format_cpu_list((0, 1, 2, 5, 7, 8)) == "0-2,5,7-8"
    assert config.size_in_bytes("40GiB") == 40 * 2**30
    assert "[secret]" in repr(cfg.secrets.slack_webhook_url)


def test_invalid_config_declares_no_resource():
    with pytest.raises(offline.ProgramRefused) as refused:
        offline.run("prod", overrides={"region": "atlantis", "computePoolMaxSize": "0"})
    assert refused.value.registrations == []


def test_render_of_a_broken_stack_prints_problems_without_traceback(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns("venv", "build", ".git", "__pycache__"))
    stack = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    stack["config"]["trading-platform:computePoolMaxSize"] = 0
    stack["config"]["trading-platform:onCall"]["rotation"][0]["phone"] = "0612345678"
    stack["config"]["trading-platform:privateSubnet"] = "100.64.0.0/24"
    (project / "Pulumi.broken.yaml").write_text(yaml.safe_dump(stack))
    run = subprocess.run(
        [sys.executable, "-m", "offline", "broken"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr + run.stdout
    for key in (
        "computePoolMaxSize = '0'",
        "onCall.rotation[0].phone = '0612345678'",
        "privateSubnet = '100.64.0.0/24'",
    ):
        assert f"trading-platform:{key}" in run.stderr
    assert not (project / "build" / "broken").exists()


def test_a_plaintext_secret_that_fails_its_format_is_not_echoed():
    # Before: a secret stored in plaintext *and* malformed was printed in full in the message.
    values, secret_keys = prod_raw(heartbeatUrl="short-but-very-secret-key")
    with pytest.raises(config.InvalidConfig) as caught:
        config.load(values, secret_keys - {"heartbeatUrl"}, "prod")
    assert "short-but-very-secret-key" not in caught.value.report()
    assert "heartbeatUrl = [secret]" in caught.value.report()
