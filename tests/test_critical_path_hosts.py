"""The critical-path hosts as their own tools see them.

Inputs come from the real systems: the offers as Scaleway's API listed them (offline/recorded/,
recorded by terraform-provider-scaleway's acceptance tests), the host files as the program
declares them (phase one: the server's cloud_init; phase two: the converge script, whose files
are extracted by bash itself), checked by cloud-init, netplan, nft, systemd-analyze, chronyd,
dpkg and node-exporter.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from components import preflight
from components.config import InvalidConfig
from conftest import HOST_ROLES, host, require_tool
from offline import engine as offline
from offline import scaleway_api

SERVER = "scaleway:elasticmetal/server:Server"
COMMAND = "command:remote:Command"


def recorded(offer: str) -> dict:
    return scaleway_api.offers("fr-par-2")[offer]


# ---- the hardware ------------------------------------------------------------------------


def test_a_stack_asking_for_more_cores_than_the_offer_has_fails_preview(caplog):
    # What the review found: isolating 2-13 on EM-A315X-SSD, which Scaleway lists with 4 cores.
    assert recorded("EM-A315X-SSD")["cpus"][0]["core_count"] == 4
    with pytest.raises(offline.ProgramRefused) as refused:
        offline.run("prod", overrides={"criticalPathHosts": [host(isolatedCores="2-13")]})
    assert refused.value.registrations == []  # before any resource
    report = caplog.text
    line = next(line for line in report.splitlines() if "criticalPathHosts[0].isolatedCores" in line)
    assert "market-data" in line and "EM-A315X-SSD" in line and "4 cores, 8 threads" in line


def test_huge_pages_beyond_the_offers_memory_fail_and_a_fitting_number_passes():
    stack_file = offline.read_stack_file("prod")
    memory_gib = sum(m["capacity"] for m in recorded("EM-A315X-SSD")["memories"]) / 2**30
    too_many = dict(stack_file.values, criticalPathHosts=json.dumps([host(hugepages1G=int(memory_gib))]))
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(too_many, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)
    assert any(p.key == "criticalPathHosts[0].hugepages1G" for p in caught.value.problems)
    fitting = dict(stack_file.values, criticalPathHosts=json.dumps([host(hugepages1G=int(memory_gib / 2))]))
    preflight.validate(fitting, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)


def test_an_offer_scaleway_does_not_list_is_a_problem_not_a_traceback():
    stack_file = offline.read_stack_file("prod")
    values = dict(stack_file.values, criticalPathHosts=json.dumps([host(offer="EM-Z999X-SSD")]))
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(values, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)
    assert {p.key for p in caught.value.problems} == {"criticalPathHosts[0].offer"}  # not listed, not priced


def test_an_out_of_stock_offer_orders_the_fallback_and_a_different_cpu_fallback_is_refused(prod):
    import dataclasses

    from components.scaleway import hardware

    cfg = prod.config
    prod_host = cfg.critical_path_hosts[0]

    def sold_out(*names: str) -> hardware.OfferLookup:
        """The recorded offers, with ``names`` out of stock (as EM-A315X-SSD has been)."""

        def lookup(name: str, zone: str) -> hardware.Offer | None:
            offer = scaleway_api.recorded_offer(name, zone)
            return dataclasses.replace(offer, stock="empty") if offer and name in names else offer

        return lookup

    chosen = hardware.chosen_offer(prod_host, "fr-par-2", sold_out(prod_host.offer))
    assert chosen is not None and chosen.name == prod_host.fallback_offer
    assert hardware.stock_warnings(cfg, sold_out(prod_host.offer)) == []
    both = hardware.stock_warnings(cfg, sold_out(prod_host.offer, str(prod_host.fallback_offer)))
    assert len(both) == len(cfg.critical_path_hosts) and prod_host.offer in both[0]
    stack_file = offline.read_stack_file("prod")
    mismatched = dict(host(offer=prod_host.offer, fallbackOffer="EM-A315X-SSD"), hugepages1G=4)
    values = dict(stack_file.values, criticalPathHosts=json.dumps([mismatched]))
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(values, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)
    assert [p.key for p in caught.value.problems] == ["criticalPathHosts[0].fallbackOffer"]


def test_an_os_image_change_on_a_protected_host_is_refused_unless_allowed():
    stack_file = offline.read_stack_file("prod")
    changed = host(osVersion="22.04 LTS (Jammy Jellyfish)")
    values = dict(stack_file.values, criticalPathHosts=json.dumps([changed]))
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(values, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)
    assert [p.key for p in caught.value.problems] == ["criticalPathHosts[0].osVersion"]
    allowed = dict(stack_file.values, criticalPathHosts=json.dumps([dict(changed, allowReinstall=True)]))
    preflight.validate(allowed, stack_file.secret_keys, "prod", scaleway_api.recorded_offer)


def test_prod_layout_fits_each_hosts_offer_as_scaleway_lists_it(prod, host_files):
    for role in HOST_ROLES:
        expected = json.loads(host_files[role][1]["/etc/trading/expected.json"])
        offer = recorded(expected["offer"])
        cores = offer["cpus"][0]["core_count"]
        cmdline = dict(a.split("=", 1) for a in expected["kernel_arguments"] if "=" in a)
        isolated = {int(c) for part in cmdline["nohz_full"].split(",") for c in _expand(part)}
        assert isolated and max(isolated) < cores, f"{role}: nohz_full past the last CPU of {offer['name']}"
        assert 0 not in isolated and set(expected["pinned"].values()) <= isolated
        assert len(set(expected["pinned"].values())) == len(expected["pinned"])  # one core per hot thread


def _expand(part: str) -> range:
    lo, _, hi = part.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def test_the_server_never_reinstalls_on_a_config_change_and_keeps_its_hardware(prod):
    for server in prod.of_type(SERVER):
        assert server.inputs.get("reinstallOnConfigChanges") is False
        assert "offer" in server.ignore_changes and server.protect


# ---- phase one: cloud-init ---------------------------------------------------------------


def test_phase_one_passes_cloud_init_schema_and_writes_no_conffile_before_its_package(prod, tmp_path):
    cloud_init, dpkg = require_tool("cloud-init"), require_tool("dpkg")
    for server in prod.of_type(SERVER):
        document = offline.unwrap(server.inputs["cloudInit"])
        path = tmp_path / f"{server.name}.yaml"
        path.write_text(document)
        check = subprocess.run([cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        parsed = yaml.safe_load(document)
        for entry in parsed["write_files"]:
            owner = subprocess.run([dpkg, "-S", entry["path"]], capture_output=True, text=True)
            if owner.returncode == 0:  # a package's file on this Debian: dpkg would prompt on it
                package = owner.stdout.split(":")[0]
                assert package in parsed["packages"] and entry.get("defer") is True, entry["path"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("#cloud-config\nwrite_files:\n  - path: /x\n    defer: maybe\n")
    assert subprocess.run([cloud_init, "schema", "--config-file", str(broken)], capture_output=True).returncode != 0


# ---- phase two: the files, with the hosts' own tools ----------------------------------------


def test_the_vlan_config_is_what_netplan_generates_networkd_files_from(prod, host_files, tmp_path):
    netplan = require_tool("netplan")
    vlan = scaleway_api.RECORDED_VLAN  # the attachment's VLAN as the API returned it
    for role in HOST_ROLES:
        root = tmp_path / role
        (root / "etc/netplan").mkdir(parents=True)
        # The uplink as cloud-init's netplan renderer writes it on first boot (DHCP on the NIC).
        (root / "etc/netplan/50-cloud-init.yaml").write_text(
            f"network:\n  version: 2\n  ethernets:\n    {offline.UPLINK}:\n      dhcp4: true\n"
            f"      match:\n        macaddress: b4:83:51:0f:77:8c\n      set-name: {offline.UPLINK}\n"
        )
        (root / "etc/netplan/60-trading-private.yaml").write_text(
            host_files[role][1]["/etc/netplan/60-trading-private.yaml"]
        )
        for f in (root / "etc/netplan").iterdir():
            f.chmod(0o600)
        run = subprocess.run([netplan, "generate", "--root-dir", str(root)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        networkd = root / "run/systemd/network"
        netdev = (networkd / "10-netplan-private0.netdev").read_text()
        assert re.search(rf"^Id={vlan}$", netdev, re.M) and "Kind=vlan" in netdev
        network = (networkd / "10-netplan-private0.network").read_text()
        address = offline.unwrap(prod.outputs["critical_path_private_ips"])[role]
        assert re.search(rf"^Address={re.escape(address)}/22$", network, re.M)
        assert "Gateway" not in network  # no default route through the private network
        assert "VLAN=private0" in (networkd / f"10-netplan-{offline.UPLINK}.network").read_text()


def test_the_units_pass_systemd_analyze_verify(host_files, tmp_path):
    analyze = require_tool("systemd-analyze")
    for role, (root, _files) in host_files.items():
        units = sorted(root.glob("etc/systemd/system/*.service")) + sorted(root.glob("etc/systemd/system/*.timer"))
        assert {u.name for u in units} >= {
            f"trading-{role}.service",
            "trading-selfcheck.service",
            "trading-tune.service",
        }
        # systemd's own units from this machine; the programs the units start, as the packages
        # (chrony) and the firm (the service binary) install them.
        shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
        for unit in units:
            for program in re.findall(r"^Exec\w*=[-@:+!]*(/\S+)", unit.read_text(), re.M):
                if not (root / program.lstrip("/")).exists():
                    _write(root / program.lstrip("/"), "#!/bin/sh\n")
                    (root / program.lstrip("/")).chmod(0o755)
        run = subprocess.run([analyze, "verify", f"--root={root}", *map(str, units)], capture_output=True, text=True)
        problems = [line for line in run.stderr.splitlines() if str(root) in line or "trading" in line]
        assert run.returncode == 0 and not problems, run.stderr
    broken = units[0].with_name("trading-broken.service")
    broken.write_text(units[0].read_text().replace("Type=", "Type=bogus-"))
    run = subprocess.run([analyze, "verify", f"--root={root}", str(broken)], capture_output=True, text=True)
    assert run.returncode != 0 or "bogus" in run.stderr


def test_chrony_parses_the_time_config(host_files):
    chronyd = require_tool("chronyd")
    for _role, (root, _files) in host_files.items():
        run = subprocess.run(
            [chronyd, "-p", "-f", str(root / "etc/chrony/chrony.conf")], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        assert "hwtimestamp *" in run.stdout and re.search(r"^server \S+ .*nts", run.stdout, re.M)


def test_the_self_check_reports_through_node_exporter_and_fails_an_untuned_host(host_files, tmp_path):
    """The self-check run on a kernel that ignored the isolation (what the review found), its
    result read by the real node-exporter's textfile collector."""
    exporter = require_tool("prometheus-node-exporter")
    root_files = host_files["market-data"][1]
    expected = json.loads(root_files["/etc/trading/expected.json"])
    fake = tmp_path / "host"
    online = expected["online_cpus"]
    _write(fake / "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/md0 ro\n")  # no tuning at all
    _write(fake / "sys/devices/system/cpu/isolated", "\n")
    _write(fake / "sys/devices/system/cpu/nohz_full", "(null)\n")
    _write(fake / "sys/devices/system/cpu/online", f"0-{online - 1}\n")
    for cpu in range(online):
        _write(fake / f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor", "schedutil\n")
    _write(fake / "proc/meminfo", "HugePages_Total:       0\nHugepagesize:       2048 kB\n")
    _write(fake / "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    expected_path = tmp_path / "expected.json"
    expected_path.write_text(root_files["/etc/trading/expected.json"])
    script = tmp_path / "trading-selfcheck"
    script.write_text(root_files["/usr/local/sbin/trading-selfcheck"])
    textfile_dir = tmp_path / "textfile"
    chronyc = tmp_path / "chronyc.csv"
    chronyc.write_text(
        # chronyc -c tracking of a chronyd with no source yet (14 fields, leap status last).
        "00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,"
        "0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n"
    )
    run = subprocess.run(
        [
            "python3",
            str(script),
            "--root",
            str(fake),
            "--expected",
            str(expected_path),
            "--textfile",
            str(textfile_dir / "trading_selfcheck.prom"),
            "--chronyc-output",
            str(chronyc),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1, run.stdout
    metrics = _scrape_textfile(exporter, textfile_dir)
    failed = set(re.findall(r'trading_host_selfcheck_ok\{check="([a-z_]+)"\} 0', metrics))
    assert {
        "cmdline",
        "isolated_cpus",
        "nohz_full",
        "governor",
        "hugepages",
        "transparent_hugepages",
        "clock_sync",
    } <= failed
    assert re.search(r"^node_textfile_scrape_error 0$", metrics, re.M)
    mtime = re.search(r'^node_textfile_mtime_seconds\{file="([^"]+)"\}', metrics, re.M)
    assert mtime and re.fullmatch(r".*trading_selfcheck.prom", mtime.group(1))  # the alert's file matcher


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _scrape_textfile(exporter: str, directory: Path) -> str:
    from bench.synthetic_prometheus import free_port

    port = free_port()
    proc = subprocess.Popen(
        [
            exporter,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={directory}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                time.sleep(0.1)
        raise AssertionError("node-exporter did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
