"""The two phases that turn a stock Ubuntu Elastic Metal server into a critical-path host.

Phase one, first-boot cloud-init, does only what cannot wait: the firewall (the server is on
the internet from its first boot).  It runs once; a later change to it never reaches a running
host, so nothing else lives there.

Phase two runs over SSH on every ``pulumi up`` whose inputs changed (critical_path.py): it
installs the packages, then writes every file (in that order: a file written to a package's
conffile path before the install makes dpkg stop at a prompt), configures the private-network
VLAN, loads the firewall, enables the units and, when the kernel command line changed, reboots
the host, but only while the trading service is stopped (README "Rolling a kernel change").
It is idempotent: run twice, it changes nothing the second time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.config import HostTuning
from components.scaleway import host_network, host_tuning
from components.scaleway.hardware import HostLayout
from components.scaleway.host_network import HostAddresses

SELFCHECK_SOURCE = Path(__file__).with_name("host_selfcheck.py")
END = "TRADING_FILE_END"
NFTABLES_CONF = "/etc/nftables.conf"
NETPLAN_FILE = "/etc/netplan/60-trading-private.yaml"
GRAFANA_APT = (
    "[ -f /etc/apt/keyrings/grafana.gpg ] || { mkdir -p /etc/apt/keyrings && "
    "curl -fsSL https://apt.grafana.com/gpg.key | gpg --dearmor -o /etc/apt/keyrings/grafana.gpg; }\n"
    "echo 'deb [signed-by=/etc/apt/keyrings/grafana.gpg] https://apt.grafana.com stable main' "
    "> /etc/apt/sources.list.d/grafana.list\n"
)
PACKAGES = ("nftables", "chrony", "prometheus-node-exporter", "ethtool", "python3", "alloy")


@dataclass(frozen=True)
class HostFile:
    path: str
    mode: str
    content: str


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the document reads like the files it writes."""


_BlockDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def first_boot(addresses: HostAddresses) -> str:
    """The ``#cloud-config`` document: the firewall, written after the nftables package is
    installed (``defer``), and loaded."""
    document = {
        "package_update": True,
        "packages": ["nftables"],
        "ssh_pwauth": False,
        "write_files": [
            {
                "path": NFTABLES_CONF,
                "permissions": "0644",
                "defer": True,
                "content": host_network.nftables_ruleset(addresses),
            }
        ],
        "runcmd": [["nft", "-c", "-f", NFTABLES_CONF], ["systemctl", "enable", "--now", "nftables.service"]],
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1000)


def files(layout: HostLayout, tuning: HostTuning, addresses: HostAddresses, uplink: str, vlan: int) -> list[HostFile]:
    """Every file phase two owns on the host."""
    role = layout.role
    units = {
        "trading-tune.service": host_tuning.tune_unit(),
        "trading-selfcheck.service": host_tuning.selfcheck_unit(tuning),
        **host_tuning.selfcheck_refresh_units(),
        f"trading-{role}.service": host_tuning.service_unit(layout, addresses.otlp_grpc_endpoint),
    }
    found = [
        HostFile(host_tuning.HOST_ENV, "0644", f"UPLINK={uplink}\nVLAN={vlan}\n"),
        HostFile("/etc/trading/expected.json", "0644", host_tuning.expected(layout, tuning) + "\n"),
        HostFile(NETPLAN_FILE, "0600", host_network.netplan_vlan(uplink, vlan, addresses)),
        HostFile(NFTABLES_CONF, "0644", host_network.nftables_ruleset(addresses)),
        HostFile("/etc/chrony/chrony.conf", "0644", host_network.chrony_conf(tuning)),
        HostFile("/etc/sysctl.d/90-trading.conf", "0644", host_tuning.sysctl_conf(tuning)),
        HostFile("/etc/default/grub.d/90-trading-low-latency.cfg", "0644", host_tuning.grub_file(layout, tuning)),
        HostFile(
            "/etc/default/prometheus-node-exporter", "0644", host_network.node_exporter_defaults(addresses.private_ip)
        ),
        HostFile("/etc/alloy/config.alloy", "0644", host_network.alloy_config(role, addresses.otlp_grpc_endpoint)),
        HostFile(host_tuning.TUNE_PATH, "0755", host_tuning.tune_script(layout, tuning)),
        HostFile(host_tuning.SELFCHECK_PATH, "0755", SELFCHECK_SOURCE.read_text()),
        *(HostFile(f"/etc/systemd/system/{name}", "0644", text) for name, text in units.items()),
    ]
    for f in found:
        assert END not in f.content, f"{f.path} contains the heredoc terminator"
    return found


def converge(layout: HostLayout, tuning: HostTuning, host_files: list[HostFile]) -> str:
    """The phase-two script (run as root with bash): idempotent, stops before touching anything
    when it would have to reboot a host whose trading service is running."""
    role, service = layout.role, f"trading-{layout.role}.service"
    wanted = " ".join(host_tuning.kernel_arguments(layout, tuning))
    # cpufrequtils resets the governor at boot; irqbalance moves IRQs onto isolated cores; an
    # unattended upgrade restarts services mid-session.
    unwanted = ["cpufrequtils", "irqbalance"] + ([] if tuning.unattended_upgrades else ["unattended-upgrades"])
    writes = "".join(f"install -D -m {f.mode} /dev/stdin {f.path} <<'{END}'\n{f.content}{END}\n" for f in host_files)
    return (
        "#!/bin/bash\n"
        f"# Phase two of the {role} host: generated by the trading platform, safe to re-run.\n"
        "set -euo pipefail\n"
        "export DEBIAN_FRONTEND=noninteractive\n"
        f"wanted='{wanted}'\n"
        "reboot_needed=no\n"
        "for arg in $wanted; do\n"
        '  case " $(cat /proc/cmdline) " in *" $arg "*) ;; *) reboot_needed=yes ;; esac\n'
        "done\n"
        f'if [ "$reboot_needed" = yes ] && systemctl is-active --quiet {service}; then\n'
        f'  echo "{role}: the kernel command line changes and {service} is running; stop it in a maintenance '
        "window and run pulumi up again (README 'Rolling a kernel change'). Nothing was changed.\" >&2\n"
        "  exit 3\n"
        "fi\n"
        "# 1. Packages, before any file at a conffile path.\n"
        f"{GRAFANA_APT}"
        "apt-get update -q\n"
        f"apt-get install -y -q -o Dpkg::Options::=--force-confold {' '.join(PACKAGES)}\n"
        f"for unwanted in {' '.join(unwanted)}; do\n"
        '  if dpkg -s "$unwanted" >/dev/null 2>&1; then apt-get purge -y -q "$unwanted"; fi\n'
        "done\n"
        'apt-mark hold linux-generic linux-image-generic linux-headers-generic "linux-image-$(uname -r)"\n'
        "systemctl disable --now systemd-timesyncd.service 2>/dev/null || true\n"
        "id trading >/dev/null 2>&1 || useradd --system --shell /usr/sbin/nologin trading\n"
        "# 2. Files.\n"
        f"{writes}"
        "# 3. Network, firewall, sysctls, services.\n"
        f"nft -c -f {NFTABLES_CONF}\n"
        f"nft -f {NFTABLES_CONF}\n"
        "systemctl enable nftables.service\n"
        "netplan generate\n"
        "netplan apply\n"
        "sysctl --system >/dev/null\n"
        "systemctl daemon-reload\n"
        "systemctl enable chrony.service prometheus-node-exporter.service alloy.service\n"
        "systemctl restart chrony.service prometheus-node-exporter.service alloy.service\n"
        f"systemctl enable trading-tune.service trading-selfcheck.service trading-selfcheck-refresh.timer {service}\n"
        "# 4. The kernel: a new command line needs a reboot (the trading service is stopped, see above).\n"
        'if [ "$reboot_needed" = yes ]; then\n'
        "  update-grub\n"
        "  systemd-run --on-active=5 systemctl reboot\n"
        f'  echo "{role}: rebooting into the new kernel command line"\n'
        "  exit 0\n"
        "fi\n"
        "systemctl restart trading-tune.service\n"
        "systemctl restart trading-selfcheck-refresh.timer\n"
    )


def await_selfcheck() -> str:
    """After phase two (and its reboot, if any): the host passes its self-check, or ``pulumi up``
    stops here and the next host is not touched."""
    return "sudo systemctl start trading-selfcheck.service; sudo /usr/local/sbin/trading-selfcheck"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
