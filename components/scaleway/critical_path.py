"""Elastic Metal hosts for the latency-critical trading path, one per role.

Market data, strategy and order management run as systemd services on bare metal (spec 001:
no Kubernetes on the critical path).  Each host gets a reserved private-network address (IPAM)
and is built in two phases (host_phases.py): first-boot cloud-init (the firewall), then, over
SSH once the private network is attached, everything that must converge on every ``pulumi up``.
Hosts converge one after the other: a host that fails its self-check stops the update before
the next host is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote
from pulumiverse_scaleway import elasticmetal, ipam

from components.config import CriticalPathHost, HostTuning, NetworkConfig
from components.scaleway import host_phases
from components.scaleway.hardware import HostLayout
from components.scaleway.host_network import HostAddresses

PRIVATE_NETWORK_OPTION = "Private Network"
# The interface that carries the default route: Elastic Metal puts the Private Network's VLAN
# on it.  Read on the host, after the install, because its name depends on the hardware.
INVENTORY = "ip route show default | awk '{print $5; exit}'"


@dataclass(frozen=True)
class CriticalPathHostsArgs:
    prefix: str
    hosts: tuple[CriticalPathHost, ...]
    layouts: dict[str, HostLayout]
    tuning: HostTuning
    network: NetworkConfig
    private_network_id: pulumi.Input[str]
    ssh_key_ids: tuple[str, ...]
    ssh_private_key: pulumi.Input[str] | None
    otlp_grpc_endpoint: pulumi.Output[str]
    protect: bool
    tags: list[str]


def _bare_address(cidr: str) -> str:
    return cidr.split("/")[0]


def _public_ipv4(ips: Sequence[elasticmetal.outputs.ServerIp] | None) -> str:
    for ip in ips or []:
        if ip.version == "IPv4" and ip.address:
            return ip.address
    raise ValueError("the server has no public IPv4 address to reach it over SSH")


def _vlan(networks: Sequence[elasticmetal.outputs.ServerPrivateNetwork] | None) -> int:
    for pn in networks or []:
        if pn.vlan:
            return pn.vlan
    raise ValueError("the server's private network attachment has no VLAN id yet")


class CriticalPathHosts(pulumi.ComponentResource):
    def __init__(self, name: str, args: CriticalPathHostsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:infra:CriticalPathHosts", name, None, opts)
        zone, child = args.network.zone, pulumi.ResourceOptions(parent=self, protect=args.protect)
        self.private_ips: dict[str, pulumi.Output[str]] = {}
        if not args.hosts:
            self.register_outputs({"private_ips": self.private_ips})
            return
        invoke = pulumi.InvokeOutputOptions(parent=self)
        option = elasticmetal.get_option_output(name=PRIVATE_NETWORK_OPTION, zone=zone, opts=invoke)
        addresses = {
            host.role: ipam.Ip(
                f"{name}-{host.role}-ip",
                sources=[ipam.IpSourceArgs(private_network_id=args.private_network_id)],
                region=args.network.region,
                tags=args.tags + [f"role={host.role}"],
                # The host's private address: scrape targets and firewall rules name it.
                opts=child,
            )
            for host in args.hosts
        }
        self.private_ips = {role: ip.address.apply(_bare_address) for role, ip in addresses.items()}
        all_ips = pulumi.Output.all(*self.private_ips.values())
        previous: remote.Command | None = None
        for host in args.hosts:
            layout = args.layouts[host.role]
            where = pulumi.Output.all(self.private_ips[host.role], all_ips, args.otlp_grpc_endpoint).apply(
                lambda v: HostAddresses(
                    private_ip=v[0],
                    private_subnet=args.network.private_subnet,
                    peers=tuple(ip for ip in v[1] if ip != v[0]),
                    ssh_allow_list=args.network.ssh_allow_list,
                    otlp_grpc_endpoint=v[2],
                )
            )
            offer = elasticmetal.get_offer_output(name=layout.offer.name, zone=zone, opts=invoke)
            os_image = elasticmetal.get_os_output(name=host.os_name, version=host.os_version, zone=zone, opts=invoke)
            document = where.apply(host_phases.first_boot)
            server = elasticmetal.Server(
                f"{name}-{host.role}",
                name=f"{args.prefix}-{host.role}",
                hostname=f"{args.prefix}-{host.role}",
                zone=zone,
                offer=offer.offer_id,
                os=os_image.os_id,
                ssh_key_ids=list(args.ssh_key_ids),
                options=[elasticmetal.ServerOptionArgs(id=option.option_id)],
                private_networks=[
                    elasticmetal.ServerPrivateNetworkArgs(
                        id=args.private_network_id, ipam_ip_ids=[addresses[host.role].id]
                    )
                ],
                # Phase one.  A change updates user-data only: it never reinstalls the host.
                cloud_init=document,
                reinstall_on_config_changes=False,
                # Scaleway refuses to delete a protected server, whatever the caller.
                protected=args.protect,
                tags=args.tags + [f"role={host.role}", "critical-path"],
                # The offer is chosen for a new host (fallbackOffer while out of stock); an
                # installed host keeps its hardware.  The OS is locked by installedOs (config).
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(ignore_changes=["offer"])),
            )
            if args.ssh_private_key is not None:
                previous = self._phase_two(name, host, layout, args, server, where, previous)
        self.register_outputs({"private_ips": self.private_ips})

    def _phase_two(
        self,
        name: str,
        host: CriticalPathHost,
        layout: HostLayout,
        args: CriticalPathHostsArgs,
        server: elasticmetal.Server,
        where: pulumi.Output[HostAddresses],
        previous: remote.Command | None,
    ) -> remote.Command:
        """Inventory, converge, then wait for the self-check; after the previous host's."""
        assert args.ssh_private_key is not None
        connection = remote.ConnectionArgs(
            host=server.ips.apply(_public_ipv4),
            user=args.tuning.ssh_user,
            private_key=pulumi.Output.secret(args.ssh_private_key),
            # An Elastic Metal reboot takes minutes: keep dialling for up to 20 of them.
            dial_error_limit=120,
            per_dial_timeout=10,
        )
        opts = pulumi.ResourceOptions(parent=self, depends_on=[server])
        inventory = remote.Command(f"{name}-{host.role}-inventory", connection=connection, create=INVENTORY, opts=opts)
        vlan = server.private_networks.apply(_vlan)  # typed outputs only outside Output.all
        script: pulumi.Output[str] = pulumi.Output.all(inventory.stdout, vlan, where).apply(
            lambda v: host_phases.converge(
                layout, args.tuning, host_phases.files(layout, args.tuning, v[2], v[0].strip(), v[1])
            )
        )
        digest = script.apply(host_phases.digest)  # a new script re-runs converge and the self-check
        converge = remote.Command(
            f"{name}-{host.role}-converge",
            connection=connection,
            # The script is saved first and run with no stdin: no command in it can eat its rest.
            create='t=$(mktemp) && cat > "$t" && sudo /bin/bash "$t" </dev/null; rc=$?; rm -f "$t"; exit $rc',
            stdin=script,
            triggers=[digest],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[inventory, *([previous] if previous else [])]),
        )
        self_check = remote.Command(
            f"{name}-{host.role}-self-check",
            connection=connection,
            create=host_phases.await_selfcheck(),
            triggers=[digest],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[converge]),
        )
        return self_check
