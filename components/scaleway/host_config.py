"""The cloud-init document of a critical-path bare-metal host, generated from typed config.

It turns a stock Ubuntu Elastic Metal server into a low-latency host:

* kernel command line: ``isolcpus``/``nohz_full``/``rcu_nocbs`` on the isolated cores,
  1 GiB huge pages reserved at boot (then one reboot to apply them);
* CPU frequency governor ``performance`` on every core, at every boot;
* irqbalance stopped and disabled, every IRQ pinned to the housekeeping cores at every boot;
* node-exporter listening on the private address only;
* Grafana Alloy shipping the journal (system and service logs), and the role's service
  exporting its traces and metrics, to the OpenTelemetry Collector's gateway over the private
  network (the collector forwards logs to Loki, traces to Tempo, metrics to Prometheus);
* a systemd unit for the role's service with ``CPUAffinity`` on the isolated cores;
* an nftables policy that drops every inbound packet except loopback, replies, the private
  network, and SSH from the allow-list.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from components.config import CriticalPathHost
from components.topology import NODE_EXPORTER_PORT


@dataclass(frozen=True)
class HostEndpoints:
    """Where a host sends its telemetry, on the private network."""

    otlp_grpc_endpoint: str


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the document reads like the files it writes."""


_BlockDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None),
)


def kernel_arguments(host: CriticalPathHost) -> str:
    cores = host.isolated_list
    args = [
        f"isolcpus=managed_irq,domain,{cores}",
        f"nohz_full={cores}",
        f"rcu_nocbs={cores}",
        f"irqaffinity={host.housekeeping_list}",
        "intel_pstate=passive",
        "skew_tick=1",
        "tsc=reliable",
        "nosoftlockup",
    ]
    if host.hugepages_1g:
        args += ["default_hugepagesz=1G", "hugepagesz=1G", f"hugepages={host.hugepages_1g}"]
    return " ".join(args)


def nftables_ruleset(private_subnet: str, ssh_allow_list: tuple[str, ...]) -> str:
    ssh = (
        f"    tcp dport 22 ip saddr {{ {', '.join(ssh_allow_list)} }} accept\n"
        if ssh_allow_list
        else "    # no SSH allow-list configured: SSH is closed on the public interface\n"
    )
    return (
        "#!/usr/sbin/nft -f\n"
        "flush ruleset\n"
        "table inet trading_filter {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy drop;\n"
        "    iif lo accept\n"
        "    ct state established,related accept\n"
        "    ct state invalid drop\n"
        f"    ip saddr {private_subnet} accept\n"
        f"{ssh}"
        "    icmp type { echo-request, destination-unreachable, time-exceeded } limit rate 10/second accept\n"
        "  }\n"
        "  chain forward {\n"
        "    type filter hook forward priority 0; policy drop;\n"
        "  }\n"
        "}\n"
    )


def service_unit(host: CriticalPathHost, endpoints: HostEndpoints) -> str:
    return (
        "[Unit]\n"
        f"Description=Trading critical path: {host.role}\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        f"ConditionPathExists=/opt/trading/{host.role}/bin/{host.role}\n"
        "\n[Service]\n"
        "Type=simple\n"
        "User=trading\n"
        f"ExecStart=/opt/trading/{host.role}/bin/{host.role}\n"
        f"CPUAffinity={host.isolated_list.replace(',', ' ')}\n"
        "CPUSchedulingPolicy=fifo\n"
        "CPUSchedulingPriority=80\n"
        "LimitMEMLOCK=infinity\n"
        "Restart=always\n"
        "RestartSec=1\n"
        f"Environment=OTEL_SERVICE_NAME={host.role}\n"
        f"Environment=OTEL_EXPORTER_OTLP_ENDPOINT={endpoints.otlp_grpc_endpoint}\n"
        "Environment=OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n"
        f"Environment=OTEL_RESOURCE_ATTRIBUTES=host.role={host.role},deployment.environment=critical-path\n"
        "\n[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def alloy_config(host: CriticalPathHost, endpoints: HostEndpoints) -> str:
    grpc = endpoints.otlp_grpc_endpoint.removeprefix("http://")
    return (
        "// The journal (system and service logs) to the cluster's OpenTelemetry gateway.\n"
        'loki.source.journal "system" {\n'
        "  forward_to    = [otelcol.receiver.loki.journal.receiver]\n"
        "  relabel_rules = loki.relabel.journal.rules\n"
        f'  labels        = {{ job = "critical-path-journal", host_role = "{host.role}" }}\n'
        "}\n\n"
        'loki.relabel "journal" {\n'
        "  forward_to = []\n"
        "  rule {\n"
        '    source_labels = ["__journal__systemd_unit"]\n'
        '    target_label  = "unit"\n'
        "  }\n"
        "}\n\n"
        'otelcol.receiver.loki "journal" {\n'
        "  output {\n"
        "    logs = [otelcol.exporter.otlp.gateway.input]\n"
        "  }\n"
        "}\n\n"
        'otelcol.exporter.otlp "gateway" {\n'
        "  client {\n"
        f'    endpoint = "{grpc}"\n'
        "    tls {\n"
        "      insecure = true\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def render(
    host: CriticalPathHost,
    private_ip: str,
    private_subnet: str,
    ssh_allow_list: tuple[str, ...],
    endpoints: HostEndpoints,
) -> str:
    """Return the ``#cloud-config`` document of one host."""
    housekeeping = host.housekeeping_list
    document = {
        "package_update": True,
        "packages": ["nftables", "prometheus-node-exporter", "linux-tools-common", "cpufrequtils", "gpg", "curl"],
        "users": ["default", {"name": "trading", "system": True, "shell": "/usr/sbin/nologin"}],
        "write_files": [
            {
                "path": "/etc/default/grub.d/90-trading-low-latency.cfg",
                "permissions": "0644",
                "content": f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {kernel_arguments(host)}"\n',
            },
            {
                "path": "/etc/nftables.conf",
                "permissions": "0644",
                "content": nftables_ruleset(private_subnet, ssh_allow_list),
            },
            {
                "path": "/etc/default/prometheus-node-exporter",
                "permissions": "0644",
                "content": f'ARGS="--web.listen-address={private_ip}:{NODE_EXPORTER_PORT} '
                '--collector.systemd --collector.processes"\n',
            },
            {
                "path": "/usr/local/sbin/trading-tune-cpu",
                "permissions": "0755",
                "content": (
                    "#!/bin/sh\n"
                    "# Performance governor on every core; every IRQ on the housekeeping cores.\n"
                    "for g in /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do\n"
                    '  echo performance > "$g"\n'
                    "done\n"
                    "for irq in /proc/irq/[0-9]*; do\n"
                    f'  echo {housekeeping} > "$irq/smp_affinity_list" 2>/dev/null || true\n'
                    "done\n"
                ),
            },
            {
                "path": "/etc/systemd/system/trading-tune-cpu.service",
                "permissions": "0644",
                "content": (
                    "[Unit]\nDescription=Low-latency CPU governor and IRQ affinity\n"
                    "After=network-online.target\n\n[Service]\nType=oneshot\n"
                    "ExecStart=/usr/local/sbin/trading-tune-cpu\nRemainAfterExit=yes\n\n"
                    "[Install]\nWantedBy=multi-user.target\n"
                ),
            },
            {
                "path": f"/etc/systemd/system/trading-{host.role}.service",
                "permissions": "0644",
                "content": service_unit(host, endpoints),
            },
            {"path": "/etc/alloy/config.alloy", "permissions": "0644", "content": alloy_config(host, endpoints)},
        ],
        "runcmd": [
            ["systemctl", "disable", "--now", "irqbalance"],
            ["systemctl", "enable", "--now", "nftables"],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "trading-tune-cpu.service"],
            ["systemctl", "restart", "prometheus-node-exporter"],
            [
                "sh",
                "-c",
                "mkdir -p /etc/apt/keyrings && curl -fsSL https://apt.grafana.com/gpg.key "
                "| gpg --dearmor -o /etc/apt/keyrings/grafana.gpg && echo 'deb "
                "[signed-by=/etc/apt/keyrings/grafana.gpg] https://apt.grafana.com stable main' "
                "> /etc/apt/sources.list.d/grafana.list && apt-get update && apt-get install -y alloy",
            ],
            ["systemctl", "enable", "--now", "alloy"],
            ["systemctl", "enable", f"trading-{host.role}.service"],
            ["update-grub"],
        ],
        # The kernel arguments and huge pages apply at the next boot.
        "power_state": {"mode": "reboot", "message": "applying low-latency kernel arguments", "condition": True},
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=1000)
