"""The Alertmanager configuration as the render writes it: amtool checks the file and its routes
for every stack, and no inhibition can mute a critical alert.  The live scenarios are in
tests/test_escalation.py."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from conftest import STACKS, require_tool


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_check_config_accepts_the_rendered_file(rendered_configs, stack):
    amtool = require_tool("amtool")
    run = subprocess.run([amtool, "check-config", str(rendered_configs[stack])], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    pages = stack == "prod"  # dev has no onCall: nobody is paged
    assert f"{5 if pages else 4} receivers" in run.stdout and "4 inhibit rules" in run.stdout


# (labels, prod receivers, dev receivers)
ROUTES = [
    (["severity=critical", "alertname=NodeDown", "node=n1"], "pagerduty,slack-critical", "slack-critical"),
    (["severity=warning", "alertname=NodeCPUSaturated"], "slack", "slack"),
    (["severity=info", "alertname=ComputeScaleUp"], "blackhole", "blackhole"),
    (["severity=none", "alertname=Watchdog"], "heartbeat", "heartbeat"),
    (["severity=none", "alertname=InfoInhibitor"], "blackhole", "blackhole"),
    (["severity=page-me-maybe", "alertname=SomethingNew"], "slack", "slack"),
    (["alertname=NoSeverityAtAll"], "slack", "slack"),
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("labels,prod,dev", ROUTES, ids=[r[0][0] for r in ROUTES])
def test_amtool_routes(rendered_configs, stack, labels, prod, dev):
    expected = prod if stack == "prod" else dev
    amtool = require_tool("amtool")
    args = [amtool, "config", "routes", "test", f"--config.file={rendered_configs[stack]}"]
    run = subprocess.run([*args, f"--verify.receivers={expected}", *labels], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    wrong = subprocess.run([*args, "--verify.receivers=blackhole,x", *labels], capture_output=True, text=True)
    assert wrong.returncode != 0  # amtool does check the expectation


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    name, op, value = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher).groups()  # type: ignore[union-attr]
    actual = labels.get(name, "")
    return {"=": actual == value, "!=": actual != value, "=~": bool(re.fullmatch(value, actual))}[op]


def test_no_inhibition_can_mute_a_critical_alert(rendered_configs):
    """A muted alert sends no resolve: its PagerDuty incident would stay open for ever.  Every
    critical rule's labels (as the rule files declare them) against every inhibition target."""
    from components.alerting import rules

    config = yaml.safe_load(rendered_configs["prod"].read_text())
    criticals = [
        {"alertname": r["alert"], **r["labels"]}
        for path in rules.rule_files()
        for g in yaml.safe_load(path.read_text())["groups"]
        for r in g["rules"]
        if r.get("labels", {}).get("severity") == "critical"
    ]
    assert len(criticals) >= 6
    for rule in config["inhibit_rules"]:
        for labels in criticals:
            assert not all(_matches(m, labels) for m in rule["target_matchers"]), (rule, labels)
