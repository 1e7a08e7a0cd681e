"""Realistic mistakes in a stack file, through the offline render's command line (the same
validation `pulumi preview` runs first): each must exit 2 with no traceback, name the key and
the bad value (never a secret's) and say what is allowed, and write nothing.

Every case edits a copy of Pulumi.prod.yaml as a person would, as YAML text or as data.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, host, on_call
from offline import engine, render

P = "trading-platform:"


def setting(**values: object) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        for key, value in values.items():
            if value is None:
                config.pop(P + key, None)
            else:
                config[P + key] = value

    return change


# (id, change, key named, value as shown (None: a secret, never shown), fragment of what is allowed)
# fmt: off
CASES: list[tuple[str, Callable[[dict], None], str, str | None, str]] = [
    ('region unknown', setting(region='us-east-1'), 'region', "'us-east-1'", 'fr-par, nl-ams, pl-waw'),
    ('zone of another region', setting(zone='nl-ams-1'), 'zone', "'nl-ams-1'", 'fr-par-1'),
    ('subnet not a CIDR', setting(privateSubnet='172.16.16.0/33'), 'privateSubnet', "'172.16.16.0/33'", 'CIDR'),
    ('subnet host bits', setting(privateSubnet='172.16.16.5/22'), 'privateSubnet', "'172.16.16.5/22'", 'host bits'),
    ('subnet public', setting(privateSubnet='8.8.8.0/24'), 'privateSubnet', "'8.8.8.0/24'", 'RFC 1918'),
    ('subnet link-local', setting(privateSubnet='169.254.0.0/22'), 'privateSubnet', "'169.254.0.0/22'", 'RFC 1918'),
    ('subnet shared CGNAT', setting(privateSubnet='100.100.0.0/22'), 'privateSubnet', "'100.100.0.0/22'", 'RFC 1918'),
    ('subnet netmask form', setting(privateSubnet='172.16.16.0/255.255.252.0'), 'privateSubnet', "'172.16.16.0/255.255.252.0'", 'write 172.16.16.0/22'),
    ('subnet zero-padded', setting(privateSubnet='172.016.016.0/22'), 'privateSubnet', "'172.016.016.0/22'", 'canonical'),
    ('subnet too small', setting(privateSubnet='172.16.16.0/29'), 'privateSubnet', "'172.16.16.0/29'", '/20 to /28'),
    ('subnet overlaps pods', setting(privateSubnet='100.64.0.0/22'), 'privateSubnet', "'100.64.0.0/22'", 'must not overlap podCidr'),
    ('ssh entry not a CIDR', setting(sshAllowList=['203.0.113.0/28', 'office']), 'sshAllowList[1]', "'office'", 'CIDR'),
    ('service range overlaps subnet', setting(serviceCidr='172.16.16.0/24'), 'privateSubnet', "'172.16.16.0/22'", 'must not overlap serviceCidr'),
    ('low-latency pool of zero', setting(lowLatencyPoolSize=0), 'lowLatencyPoolSize', "'0'", '1 to 100'),
    ('ssh open to the world', setting(sshAllowList=['0.0.0.0/0']), 'sshAllowList[0]', "'0.0.0.0/0'", 'not the whole internet'),
    ('ssh entry netmask form', setting(sshAllowList=['203.0.113.0/255.255.255.240']), 'sshAllowList[0]', "'203.0.113.0/255.255.255.240'", 'nft rejects'),
    ('kubernetes version word', setting(kubernetesVersion='latest'), 'kubernetesVersion', "'latest'", '1.35'),
    ('kubernetes version ended', setting(kubernetesVersion='1.33'), 'kubernetesVersion', "'1.33'", 'end of life'),
    ('patch with auto-upgrade', setting(kubernetesVersion='1.35.2'), 'kubernetesVersion', "'1.35.2'", 'bare minor'),
    ('maintenance day', setting(maintenanceDay='someday'), 'maintenanceDay', "'someday'", 'sunday'),
    ('maintenance hour', setting(maintenanceStartHour=25), 'maintenanceStartHour', "'25'", '0 to 23'),
    ('autoscaler duration words', setting(autoscalerScaleDownUnneededTime='five minutes'), 'autoscalerScaleDownUnneededTime', "'five minutes'", 'duration'),
    ('autoscaler duration zero', setting(autoscalerScaleDownDelayAfterAdd='0m'), 'autoscalerScaleDownDelayAfterAdd', "'0m'", 'above zero'),
    ('expander unknown', setting(autoscalerExpander='cheapest'), 'autoscalerExpander', "'cheapest'", 'least_waste'),
    ('empty node type', setting(permanentPoolNodeType=''), 'permanentPoolNodeType', "''", 'node type'),
    ('permanent pool of zero', setting(permanentPoolSize=0), 'permanentPoolSize', "'0'", '1 to 100'),
    ('compute max below min', setting(computePoolMinSize=3, computePoolMaxSize=2), 'computePoolMaxSize', "'2'", 'at least computePoolMinSize'),
    ('compute min negative', setting(computePoolMinSize=-1), 'computePoolMinSize', "'-1'", '0 to 100'),
    ('node type without price', setting(computePoolNodeType='GP1-XL'), 'computePoolNodeType', "'GP1-XL'", 'prices.yaml'),
    ('permanent node too small', setting(nodeAllocatable={'PRO2-S': {'cpu': 2, 'memoryGiB': 4}, 'POP2-HC-8C-16G': {'cpu': 7.6, 'memoryGiB': 13.4}, 'POP2-HC-16C-32G': {'cpu': 15.4, 'memoryGiB': 28.6}}), 'permanentPoolNodeType', "'PRO2-S'", 'cores requested'),
    ('allocatable NaN', setting(nodeAllocatable={'PRO2-S': {'cpu': float("nan"), 'memoryGiB': 28.6}}), 'nodeAllocatable.PRO2-S.cpu', 'NaN', 'finite'),
    ('allocatable infinite', setting(nodeAllocatable={'PRO2-S': {'cpu': 7.6, 'memoryGiB': float("inf")}}), 'nodeAllocatable.PRO2-S.memoryGiB', 'Infinity', 'finite'),
    ('allocatable unknown field', setting(nodeAllocatable={'PRO2-S': {'cpu': 7.6, 'memoryGiB': 28.6, 'memory': 30}}), 'nodeAllocatable.PRO2-S.memory', '30', 'cpu and memoryGiB only'),
    ('host role unknown', setting(criticalPathHosts=[host(role='risk')]), 'criticalPathHosts[0].role', "'risk'", 'market-data'),
    ('host role twice', setting(criticalPathHosts=[host(), host()]), 'criticalPathHosts[1].role', "'market-data'", 'each role once'),
    ('host offer empty', setting(criticalPathHosts=[host(offer='')]), 'criticalPathHosts[0].offer', "''", 'non-empty'),
    ('host offer unpriced', setting(criticalPathHosts=[host(offer='EM-Z999')]), 'criticalPathHosts[0].offer', "'EM-Z999'", 'prices.yaml'),
    ('isolated cores syntax', setting(criticalPathHosts=[host(isolatedCores='2..7')]), 'criticalPathHosts[0].isolatedCores', "'2..7'", '2-7,10'),
    ('isolated cores outside', setting(criticalPathHosts=[host(isolatedCores='2-19')]), 'criticalPathHosts[0].isolatedCores', "'2-19'", 'EM-A315X-SSD'),
    ('no core left to isolate', setting(criticalPathHosts=[host(housekeepingCores=4)]), 'criticalPathHosts[0].housekeepingCores', '4', 'at least one core'),
    ('housekeeping core isolated', setting(criticalPathHosts=[host(isolatedCores='0-3')]), 'criticalPathHosts[0].isolatedCores', "'0-3'", 'housekeeping cores'),
    ('huge pages negative', setting(criticalPathHosts=[host(hugepages1G=-2)]), 'criticalPathHosts[0].hugepages1G', '-2', '0 to 1024'),
    # EM-A315X-SSD has 64 GB (its memories in offline/recorded, Scaleway's own answer): all of it as huge pages.
    ('huge pages beyond memory', setting(criticalPathHosts=[host(hugepages1G=64)]), 'criticalPathHosts[0].hugepages1G', '64', 'pages of 1 GiB on'),
    ('hosts without ssh keys', setting(sshKeyIds=[]), 'sshKeyIds', '[]', 'SSH key'),
    ('ssh public key as key id', setting(sshKeyIds=['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB ops@laptop']), 'sshKeyIds[0]', "'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB ops@laptop'", 'not the public key'),
    ('retention words', setting(prometheusRetention='10 days'), 'prometheusRetention', "'10 days'", '10d'),
    ('prometheus retention zero', setting(prometheusRetention='0d'), 'prometheusRetention', "'0d'", 'above zero'),
    ('loki retention zero', setting(lokiRetention='0h'), 'lokiRetention', "'0h'", 'keep forever'),
    ('tempo retention zero', setting(tempoRetention='0s'), 'tempoRetention', "'0s'", 'above zero'),
    ('retention size unit', setting(prometheusRetentionSize='40G'), 'prometheusRetentionSize', "'40G'", 'GiB'),
    ('retention size over volume', setting(prometheusRetentionSize='50GiB'), 'prometheusRetentionSize', "'50GiB'", '90% of prometheusVolumeSize'),
    ('volume in decimal units', setting(prometheusVolumeSize='60GB'), 'prometheusVolumeSize', "'60GB'", 'Kubernetes quantities'),
    ('volume of zero', setting(prometheusVolumeSize='0GiB'), 'prometheusVolumeSize', "'0GiB'", 'above zero'),
    ('volumes deleted with claims', setting(storageClass='sbs-default'), 'storageClass', "'sbs-default'", 'retaining class'),
    ('storage class name', setting(storageClass='SBS_Default'), 'storageClass', "'SBS_Default'", 'StorageClass'),
    ('probe not https', setting(externalProbes=['http://api.binance.com']), 'externalProbes[0]', "'http://api.binance.com'", 'https://'),
    ('probe with template braces', setting(externalProbes=['https://api.example.com/{{ .Labels.x }}']), 'externalProbes[0]', "'https://api.example.com/{{ .Labels.x }}'", 'without braces'),
    ('probe host twice', setting(externalProbes=['https://api.binance.com/a', 'https://api.binance.com/b']), 'externalProbes[1]', "'https://api.binance.com/b'", 'one probe per host'),
    ('phone in national form', setting(onCall=on_call({'phone': '06 12 34 56 78'})), 'onCall.rotation[0].phone', "'06 12 34 56 78'", '+33 612345678'),
    ('phone with trunk prefix', setting(onCall=on_call({'phone': '+33 0612345678'}, at='incidentLead')), 'onCall.incidentLead.phone', "'+33 0612345678'", 'without its trunk prefix'),
    ('on-call person twice', setting(onCall=on_call({'email': 'lucas.martin@trading.example.com'}, at='rotation[2]')), 'onCall.rotation[2].email', "'lucas.martin@trading.example.com'", 'each person once'),
    ('shift length zero', setting(onCall=on_call(rotationDays=0)), 'onCall.rotationDays', '0', '1 to 365'),
    ('handover not a time', setting(onCall=on_call(handover='monday 9am')), 'onCall.handover', "'monday 9am'", 'RFC 3339'),
    ('prod pages nobody', setting(onCall=None), 'onCall', '(missing)', 'pages its on-call'),
    ('runbook url http', setting(runbookBaseUrl='http://wiki.example.com/runbooks'), 'runbookBaseUrl', "'http://wiki.example.com/runbooks'", 'https://'),
    ('runbook url template', setting(runbookBaseUrl='https://wiki.example.com/{{ $labels.team }}'), 'runbookBaseUrl', "'https://wiki.example.com/{{ $labels.team }}'", 'https://'),
    ('slack channel without #', setting(slackChannel='cvntrade-alerts'), 'slackChannel', "'cvntrade-alerts'", '#cvntrade-alerts'),
    ('grafana domain is a URL', setting(grafanaDomain='https://grafana.example.com'), 'grafanaDomain', "'https://grafana.example.com'", 'DNS name'),
    ('grafana domain label too long', setting(grafanaDomain='gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.example.com'), 'grafanaDomain', "'gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg.example.com'", 'at most 63'),
    ('grafana domain uppercase', setting(grafanaDomain='Grafana.Example.com'), 'grafanaDomain', "'Grafana.Example.com'", 'lowercase'),
    ('acme email', setting(acmeEmail='platform team'), 'acmeEmail', "'platform team'", 'e-mail'),
    ('postgres host with path', setting(grafanaPostgresHost='db.example.com/mlops'), 'grafanaPostgresHost', "'db.example.com/mlops'", 'host[:port]'),
    ('postgres user', setting(grafanaPostgresUser='grafana reader'), 'grafanaPostgresUser', "'grafana reader'", 'role name'),
    ('environment unknown', setting(environment='production'), 'environment', "'production'", 'dev, staging, prod'),
    ('prod file says dev', setting(environment='dev'), 'environment', "'dev'", "the stack's own name"),
    ('prod unprotected', setting(protectStateful=False), 'protectStateful', 'false', 'protected by name'),
    ('organization id', setting(organizationId='my-org'), 'organizationId', "'my-org'", 'UUID'),
    ('organization id missing', setting(organizationId=None), 'organizationId', '(missing)', 'UUID'),
    ('bucket suffix guessable', setting(bucketSuffix='prod'), 'bucketSuffix', "'prod'", '8 to 16 lowercase'),
    ('bucket suffix uppercase', setting(bucketSuffix='Q7K2M9X4W1P8'), 'bucketSuffix', "'Q7K2M9X4W1P8'", 'lowercase'),
    ('misspelt key', setting(computePoolMaxSzie=3), 'computePoolMaxSzie', "'3'", 'did you mean computePoolMaxSize?'),
    ('unknown key', setting(enableMagic=True), 'enableMagic', "'true'", 'not a key of this project'),
    ('pod range changed in prod', setting(podCidr='100.96.0.0/15'), 'podCidr', "'100.96.0.0/15'", 'replaces the Kapsule cluster'),
    ('deployed ranges missing', setting(deployedNetwork=None), 'deployedNetwork.podCidr', '(missing)', 'it locks the range'),
    ('deployed ranges unknown key', setting(deployedNetwork={'privateSubnet': '172.16.16.0/22', 'podCidr': '100.64.0.0/15', 'serviceCidr': '10.32.0.0/20', 'podSubnet': 'x'}), 'deployedNetwork.podSubnet', "'x'", 'one of privateSubnet'),
    ('namespace not a DNS label', setting(workloadNamespaces=['ml', 'Risk_Service']), 'workloadNamespaces[1]', "'Risk_Service'", 'DNS label'),
    ('namespace reserved', setting(workloadNamespaces=['monitoring']), 'workloadNamespaces[0]', "'monitoring'", 'not monitoring'),
    ('namespace twice', setting(workloadNamespaces=['ml', 'ml']), 'workloadNamespaces', '\'["ml", "ml"]\'', 'each namespace once'),
    ('secret in plaintext', setting(heartbeatUrl='https://hc-ping.com/5f1e7c2a-secret'), 'heartbeatUrl', None, 'must be stored encrypted'),
    ('malformed secret in plaintext', setting(slackWebhookUrl='http://hooks.slack.com/services/T0/B0/leaky'), 'slackWebhookUrl', None, 'must be stored encrypted'),
    ('telemetry key expired', setting(telemetryKeyExpiresOn='2026-01-01'), 'telemetryKeyExpiresOn', "'2026-01-01'", 'after today'),
    ('telemetry key for ever', setting(telemetryKeyExpiresOn='2099-12-31'), 'telemetryKeyExpiresOn', "'2099-12-31'", 'within 400 days'),
    ('telemetry key not a day', setting(telemetryKeyExpiresOn='2027-02-30'), 'telemetryKeyExpiresOn', "'2027-02-30'", 'real calendar day'),
    ('API open in prod', setting(apiAllowList=[]), 'apiAllowList', '[]', 'must not be open to the internet'),
    ('API open to the world', setting(apiAllowList=['0.0.0.0/0']), 'apiAllowList[0]', "'0.0.0.0/0'", 'not the whole internet'),
    ('host field misspelt', setting(criticalPathHosts=[host(hugepages1g=8)]), 'criticalPathHosts[0].hugepages1g', '8', 'did you mean hugepages1G?'),
    ('unquoted date as a value', setting(acmeEmail='2026-01-01'), 'acmeEmail', "'2026-01-01'", 'e-mail'),
]

# Whole files as people break them: (id, file text, words the error must say).
BROKEN_FILES = [
    ('file is a list', '- trading-platform:environment: prod\n', 'must be a mapping'),
    ('config is a list', 'config:\n  - trading-platform:environment: prod\n', '`config:` must be a mapping'),
    ('key written twice', 'config:\n  trading-platform:zone: fr-par-2\n  trading-platform:zone: fr-par-1\n', "'trading-platform:zone' is set twice"),
    ('not YAML', 'config:\n  trading-platform:zone: [fr-par-2\n', 'not valid YAML'),
]
# fmt: on
SECRET_VALUES = ("R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12", "leaky")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's files that stack files are read from; the render writes here."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    return root


def run_render(project: Path, monkeypatch, capsys, stack: str) -> tuple[int, str]:
    monkeypatch.setattr(engine, "ROOT", project)
    monkeypatch.setattr(render, "BUILD", project / "build")
    code = render.main([stack])  # an escaping exception is the traceback a user would see
    out = capsys.readouterr()
    return code, out.out + out.err


def write_case(project: Path, stack: str, change: Callable[[dict], None]) -> None:
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    change(document["config"])
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def test_there_are_at_least_80_distinct_cases():
    assert len({c[0] for c in CASES} | {f[0] for f in BROKEN_FILES}) >= 80


@pytest.mark.parametrize("case,change,key,shown,allowed", CASES, ids=[c[0] for c in CASES])
def test_a_mistake_is_reported_with_its_key_value_and_rule(
    project, monkeypatch, capsys, case, change, key, shown, allowed
):
    stack = "prod"  # the cases are mistakes in the prod stack file (protection follows the name)
    write_case(project, stack, change)
    code, output = run_render(project, monkeypatch, capsys, stack)
    assert code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip().startswith(f"- {P}{key} = ")]
    assert lines, f"no problem names {key}:\n{output}"
    if shown is None:
        assert all(line.strip().startswith(f"- {P}{key} = [secret]") for line in lines), lines
        assert not any(secret in output for secret in SECRET_VALUES)
    else:
        assert any(f"{P}{key} = {shown}" in line for line in lines), lines
    assert any(allowed in line for line in lines), lines
    assert not (project / "build").exists(), "a refused stack wrote files"


@pytest.mark.parametrize("case,text,words", BROKEN_FILES, ids=[f[0] for f in BROKEN_FILES])
def test_a_broken_stack_file_is_refused_without_a_traceback(project, monkeypatch, capsys, case, text, words):
    (project / "Pulumi.prod.yaml").write_text(text)
    code, output = run_render(project, monkeypatch, capsys, "prod")
    assert code == 2 and "Traceback" not in output
    assert words in output and "Pulumi.prod.yaml" in output
    assert not (project / "build").exists()


def test_a_stack_file_that_is_not_utf8_is_refused(project, monkeypatch, capsys):
    text = (ROOT / "Pulumi.prod.yaml").read_text().replace("office egress", "bureau \u00e9")
    (project / "Pulumi.prod.yaml").write_bytes(text.encode("latin-1"))
    code, output = run_render(project, monkeypatch, capsys, "prod")
    assert code == 2 and "Traceback" not in output and "not UTF-8" in output


def test_a_value_with_a_trailing_newline_is_refused(project, monkeypatch, capsys):
    text = (
        (ROOT / "Pulumi.prod.yaml")
        .read_text()
        .replace(
            "trading-platform:grafanaDomain: grafana.trading.example.com",
            "trading-platform:grafanaDomain: |\n    grafana.trading.example.com",
        )
    )
    (project / "Pulumi.prod.yaml").write_text(text)
    code, output = run_render(project, monkeypatch, capsys, "prod")
    assert code == 2 and "Traceback" not in output
    assert f"{P}grafanaDomain = 'grafana.trading.example.com\\n'" in output and "trailing" in output


def test_three_mistakes_at_once_are_all_listed(project, monkeypatch, capsys):
    write_case(project, "prod", setting(region="mars", lokiRetention="0h", sshKeyIds=["ssh-rsa AAAA"]))
    code, output = run_render(project, monkeypatch, capsys, "prod")
    assert code == 2
    for key in ("region", "lokiRetention", "sshKeyIds[0]"):
        assert f"{P}{key} = " in output, key
