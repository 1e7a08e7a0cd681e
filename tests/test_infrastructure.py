"""The Scaleway side of every stack, asserted on what the program declares under mocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, STACKS, phase_two
from offline import engine as offline
from offline import scaleway_api

POOL = "scaleway:kubernetes/pool:Pool"
SERVER = "scaleway:elasticmetal/server:Server"
BUCKET = "scaleway:object/bucket:Bucket"


def stack_yaml(stack: str) -> dict:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in raw.items()}


def test_every_stack_file_is_rendered():
    assert {"prod", "dev"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_hangs_off_a_component(renders, stack):
    result = renders[stack]
    components = {r.urn for r in result.resources if not r.custom}
    for r in result.resources:
        if r.custom and not r.type.startswith("pulumi:providers:"):
            assert r.parent in components, f"{r.type} {r.name} is not a component's child"
    tokens = {r.type for r in result.resources if not r.custom}
    assert all(t.startswith("trading:") for t in tokens), tokens


@pytest.mark.parametrize("stack", STACKS)
def test_no_deprecated_top_level_scaleway_alias(renders, stack):
    for r in renders[stack].resources:
        if r.type.startswith("scaleway:"):
            assert not r.type.startswith("scaleway:index/"), r.type


@pytest.mark.parametrize("stack", STACKS)
def test_network_is_private_with_gateway_egress(renders, stack):
    result = renders[stack]
    subnet = stack_yaml(stack)["privateSubnet"]
    net = result.one("scaleway:network/privateNetwork:PrivateNetwork", "network-private")
    assert net.inputs["ipv4Subnet"]["subnet"] == subnet
    gateway_network = result.one("scaleway:network/gatewayNetwork:GatewayNetwork", "network-gateway-network")
    assert gateway_network.inputs["enableMasquerade"] is True
    assert gateway_network.inputs["ipamConfigs"][0]["pushDefaultRoute"] is True
    for pool in result.of_type(POOL):
        assert pool.inputs["publicIpDisabled"] is True, pool.name


@pytest.mark.parametrize("stack", STACKS)
def test_kapsule_cluster_settings(renders, stack):
    cluster = renders[stack].one("scaleway:kubernetes/cluster:Cluster", "cluster-kapsule")
    assert cluster.inputs["cni"] == "cilium"
    assert cluster.inputs["deleteAdditionalResources"] is False
    assert cluster.inputs["privateNetworkId"] == "network-private-id"
    assert cluster.inputs["autoUpgrade"] == {
        "enable": True,
        "maintenanceWindowDay": "sunday",
        "maintenanceWindowStartHour": 3.0,
    }
    scaler = cluster.inputs["autoscalerConfig"]
    assert scaler["ignoreDaemonsetsUtilization"] is True
    assert scaler["scaleDownUnneededTime"] == "5m" and scaler["scaleDownDelayAfterAdd"] == "5m"
    assert scaler["expander"] == "least_waste"


@pytest.mark.parametrize("stack", STACKS)
def test_permanent_pool_is_fixed_and_labelled(renders, stack):
    pool = renders[stack].one(POOL, "cluster-permanent")
    assert pool.inputs["autoscaling"] is False and pool.inputs["autohealing"] is True
    assert pool.inputs["size"] == pool.inputs["minSize"] == pool.inputs["maxSize"] == 1.0
    assert pool.inputs["labels"] == {"platform.trading/pool": "permanent"}
    # The dashboards select nodes by the pool name in the node name (node=~".*permanent.*").
    assert pool.inputs["name"] == f"permanent-{pool.inputs['nodeType'].lower()}"


@pytest.mark.parametrize("stack,max_size", [("prod", 3.0), ("dev", 1.0)])
def test_compute_pool_scales_to_zero_and_is_tainted(renders, stack, max_size):
    pool = renders[stack].one(POOL, "cluster-compute")
    assert pool.inputs["autoscaling"] is True
    assert pool.inputs["minSize"] == 0.0 and pool.inputs["size"] == 0.0  # terraform-provider-scaleway#4196
    assert pool.inputs["maxSize"] == max_size
    assert pool.inputs["taints"] == [{"key": "platform.trading/workload", "value": "batch", "effect": "NoSchedule"}]
    assert pool.inputs["name"] == f"compute-{pool.inputs['nodeType'].lower()}"
    assert pool.ignore_changes == ["size"]


def test_low_latency_pool_only_in_prod_with_static_cpu_manager(prod, dev):
    pool = prod.one(POOL, "cluster-low-latency")
    assert pool.inputs["kubeletArgs"] == {"cpuManagerPolicy": "static"}
    assert pool.inputs["labels"]["latency"] == "low"
    assert {p.name for p in dev.of_type(POOL)} == {"cluster-permanent", "cluster-compute"}


def test_kubernetes_provider_waits_for_the_permanent_pool(prod):
    provider = prod.one("pulumi:providers:kubernetes", "cluster-k8s")
    permanent = prod.one(POOL, "cluster-permanent")
    assert permanent.urn in provider.depends_on
    assert offline.is_secret(provider.inputs["kubeconfig"])


def test_prod_declares_one_protected_host_per_role_on_the_private_network(prod):
    servers = {s.name: s for s in prod.of_type(SERVER)}
    assert set(servers) == {"critical-path-market-data", "critical-path-strategy", "critical-path-order-management"}
    for server in servers.values():
        assert server.protect is True and server.inputs["protected"] is True
        [attachment] = server.inputs["privateNetworks"]
        assert attachment["id"] == "network-private-id" and len(attachment["ipamIpIds"]) == 1
        assert server.inputs["options"] == [{"id": "option-Private Network"}]
        # The id Scaleway's API gives the stack's offer (offline/recorded/, the API's own answer).
        assert server.inputs["offer"] == scaleway_api.offers("fr-par-2")["EM-I220E-NVME"]["id"]
        assert server.inputs["os"] == "os-Ubuntu-24.04 LTS (Noble Numbat)"
        assert server.inputs["sshKeyIds"] == stack_yaml("prod")["sshKeyIds"]
    looked_up = {(token, args.get("name")) for token, args in prod.invokes}
    assert ("scaleway:elasticmetal/getOption:getOption", "Private Network") in looked_up


def test_each_host_carries_its_tuning_in_its_two_phases(prod, tmp_path):
    hosts = {h["role"]: h for h in stack_yaml("prod")["criticalPathHosts"]}
    ips = prod.outputs["critical_path_private_ips"]
    gateway = prod.outputs["otlp_grpc_private_endpoint"]
    assert gateway.startswith("http://172.16.16.") and gateway.endswith(":4317")
    for role, host in hosts.items():
        # Phase one: the firewall, from the first boot.
        first = yaml.safe_load(prod.one(SERVER, f"critical-path-{role}").inputs["cloudInit"])
        [firewall] = first["write_files"]
        assert "tcp dport 22 ip saddr { 203.0.113.0/28, 198.51.100.10/32 } accept" in firewall["content"]
        assert "policy drop" in firewall["content"]
        # Phase two: the layout derived from the offer's core count as Scaleway lists it.
        cores = scaleway_api.offers("fr-par-2")[host["offer"]]["cpus"][0]["core_count"]
        iso = f"{host['housekeepingCores']}-{cores - 1}"
        files = phase_two(prod, role, tmp_path / role)
        grub = files["/etc/default/grub.d/90-trading-low-latency.cfg"]
        for arg in (
            f"nohz_full={iso}",
            f"rcu_nocbs={iso}",
            f"isolcpus=managed_irq,domain,{iso}",
            f"hugepages={host['hugepages1G']}",
            "default_hugepagesz=1G",
        ):
            assert arg in grub, (role, arg)
        unit = files[f"/etc/systemd/system/trading-{role}.service"]
        assert f"TRADING_CPU_{host['hotThreads'][0].upper().replace('-', '_')}={host['housekeepingCores']}" in unit
        assert f"--web.listen-address={ips[role]}:9100" in files["/etc/default/prometheus-node-exporter"]
        assert "scaling_governor" in files["/usr/local/sbin/trading-tune"]
        # Logs, traces and metrics go to the telemetry gateway's reserved private address.
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT={gateway}" in unit
        assert f'endpoint = "{gateway.removeprefix("http://")}"' in files["/etc/alloy/config.alloy"]


def test_dev_declares_no_bare_metal_host(dev):
    assert dev.of_type(SERVER) == []
    assert dev.outputs["critical_path_private_ips"] == {}


@pytest.mark.parametrize("stack,protected", [("prod", True), ("dev", False)])
def test_buckets_are_private_expiring_and_protected_in_prod(renders, stack, protected):
    config = stack_yaml(stack)
    retention_days = {"prod": {"loki": 31, "tempo": 14}, "dev": {"loki": 3, "tempo": 2}}[stack]
    buckets = {b.name: b for b in renders[stack].of_type(BUCKET)}
    assert set(buckets) == {"storage-loki", "storage-tempo"}
    for purpose, days in retention_days.items():
        bucket = buckets[f"storage-{purpose}"]
        assert bucket.inputs["name"] == f"trading-{config['environment']}-{purpose}-{config['bucketSuffix']}"
        assert bucket.inputs["acl"] == "private" and bucket.inputs["forceDestroy"] is False
        [rule] = bucket.inputs["lifecycleRules"]
        assert rule["enabled"] is True and rule["expiration"]["days"] == days + 7
        assert bucket.protect is protected


def test_bucket_credential_is_scoped_and_secret(prod):
    policy = prod.one("scaleway:iam/policy:Policy", "storage-telemetry-writer-policy")
    [rule] = policy.inputs["rules"]
    assert set(rule["permissionSetNames"]) == {
        "ObjectStorageObjectsRead",
        "ObjectStorageObjectsWrite",
        "ObjectStorageObjectsDelete",
        "ObjectStorageBucketsRead",
    }
    assert policy.inputs["applicationId"] == "storage-telemetry-writer-id"
    from pulumi.runtime.sync_await import _sync_await

    storage = prod.program["storage"]
    assert _sync_await(storage.secret_key.is_secret()) and _sync_await(storage.access_key.is_secret())


@pytest.mark.parametrize("stack", STACKS)
def test_cost_estimate_counts_everything_that_bills(renders, stack):
    """Recomputed from the price file and the rendered resources, not from the cost module."""
    prices = yaml.safe_load((ROOT / "components" / "scaleway" / "prices.yaml").read_text())
    hourly = {
        **prices["hourly"]["nodeTypes"],
        **prices["hourly"]["offers"],
        **{k: v for k, v in prices["hourly"].items() if k not in ("nodeTypes", "offers")},
    }
    result = renders[stack]
    fixed = 0.0
    for pool in result.of_type(POOL):
        if not pool.inputs["autoscaling"]:
            fixed += pool.inputs["size"] * hourly[pool.inputs["nodeType"]]["eur"]
    servers = result.of_type("scaleway:elasticmetal/server:Server")
    offer_names = {o["id"]: name for name, o in scaleway_api.offers("fr-par-2").items()}  # as the API lists them
    for server in servers:
        fixed += hourly[offer_names[server.inputs["offer"]]]["eur"] + hourly["privateNetworkOption"]["eur"]
    fixed += sum(
        hourly[k]["eur"] * len(result.of_type(t))
        for k, t in (
            ("publicGateway", "scaleway:network/publicGateway:PublicGateway"),
            ("publicGatewayIp", "scaleway:network/publicGatewayIp:PublicGatewayIp"),
            ("loadBalancer", "scaleway:loadbalancers/loadBalancer:LoadBalancer"),
        )
    )
    cost = result.outputs["estimated_cost_eur_per_hour"]
    volumes = sum(cost["volumes_gib"].values())
    fixed += volumes * prices["perGiBMonth"]["blockStorage"]["eur"] / 730
    [compute] = [p for p in result.of_type(POOL) if p.inputs["autoscaling"]]
    per_node = hourly[compute.inputs["nodeType"]]["eur"]
    assert cost["idle"] == pytest.approx(fixed + compute.inputs["minSize"] * per_node, abs=1e-3)
    assert cost["busy"] == pytest.approx(fixed + compute.inputs["maxSize"] * per_node, abs=1e-3)
    # Every price quoted carries its source and read date; hand-entered ones are flagged.
    for name, price in cost["prices"].items():
        assert price["source"] and len(price["read_on"]) == 10, name
    assert set(cost["unverified_prices"]) == {n for n, p in cost["prices"].items() if not p["verified"]}
    assert cost["volumes_gib"]["prometheus"] == int(stack_yaml(stack).get("prometheusVolumeSize", "10GiB")[:-3])


def test_spec_price_is_not_taken_for_the_list_price():
    """Field notes (Nov 2026): POP2-HC-8C-16G listed at 0.2128 EUR/h in fr-par-2; 0.1644 is the spec's figure."""
    prices = yaml.safe_load((ROOT / "components" / "scaleway" / "prices.yaml").read_text())
    assert prices["hourly"]["nodeTypes"]["POP2-HC-8C-16G"]["eur"] == 0.2128


@pytest.mark.parametrize("stack", STACKS)
def test_no_placeholder_secret_reaches_state_or_outputs_in_plaintext(renders, stack):
    result = renders[stack]
    plain = json.dumps([offline.redact(r.inputs) for r in result.resources])
    plain += json.dumps({k: v for k, v in result.outputs.items() if k not in result.secret_outputs})
    for key, placeholder in offline.PLACEHOLDERS.items():
        assert placeholder not in plain, f"{key} leaked in plaintext"
    assert offline.GENERATED_SECRET_KEY not in plain
    assert offline.GENERATED_PASSWORD not in plain
    assert offline.GRAFANA_TOKEN not in plain


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_hold_no_plaintext_secret(stack):
    from components.config import SECRET_KEYS as REQUIRED_SECRETS

    raw = stack_yaml(stack)
    for key in REQUIRED_SECRETS:
        assert key not in raw or set(raw[key]) == {"secure"}, f"{key} in plaintext in Pulumi.{stack}.yaml"


def test_render_writes_the_files_it_promises(tmp_path, prod):
    from offline import render

    written = {p.relative_to(tmp_path).as_posix() for p in render.write(prod, tmp_path)}
    assert {
        "resources.json",
        "outputs.json",
        "alertmanager.yaml",
        "helm/prometheus-operator-crds.yaml",
        "cloud-init/critical-path-strategy.yaml",
    } <= written
    assert {f"rules/trading-platform-{n}.yaml" for n in ("critical", "warning", "info", "meta", "recording")} <= written
    resources = json.loads((tmp_path / "resources.json").read_text())
    assert len(resources) == len(prod.resources)
    secret = next(r for r in resources if r["type"] == "kubernetes:core/v1:Secret")
    assert secret["inputs"]["stringData"] == offline.REDACTED
    assert "kubeconfig" not in json.loads((tmp_path / "outputs.json").read_text())
    assert Path(tmp_path / "alertmanager.yaml").read_text().startswith("global:")


def test_every_hosts_firewall_is_valid_nftables(prod, tmp_path):
    import subprocess

    from conftest import require_tool

    nft = require_tool("nft")
    for server in prod.of_type(SERVER):
        files = {f["path"]: f["content"] for f in yaml.safe_load(server.inputs["cloudInit"])["write_files"]}
        ruleset = tmp_path / f"{server.name}.nft"
        ruleset.write_text(files["/etc/nftables.conf"])
        check = subprocess.run([nft, "-c", "-f", str(ruleset)], capture_output=True, text=True)
        assert check.returncode == 0, (server.name, check.stderr)
    broken = tmp_path / "broken.nft"
    broken.write_text(files["/etc/nftables.conf"].replace("policy drop", "policy maybe"))
    assert subprocess.run([nft, "-c", "-f", str(broken)], capture_output=True).returncode != 0


def test_the_mock_gives_each_host_the_same_address_whatever_order_its_registration_arrives_in():
    """Pulumi sends registrations concurrently, so the hosts' IPAM IPs reach the mock in any
    order (a CI run once gave market-data the order-management address); the rule tests name
    the rendered addresses, so the mock must answer by role, not by arrival."""
    import pulumi

    roles = ["market-data", "strategy", "order-management"]

    def addresses(order: list[str]) -> dict[str, str]:
        mocks, _ = offline._mocks_and_monitor("172.16.16.0/22", roles)
        found = {}
        for role in order:
            args = pulumi.runtime.MockResourceArgs(
                "scaleway:ipam/ip:Ip", f"critical-path-{role}-ip", {"tags": [f"role={role}"]}, None, None
            )
            found[role] = mocks.new_resource(args)[1]["address"]
        return found

    assert addresses(roles) == addresses(list(reversed(roles))) == {
        "market-data": "172.16.16.11/22", "strategy": "172.16.16.12/22", "order-management": "172.16.16.13/22"
    }  # fmt: skip
