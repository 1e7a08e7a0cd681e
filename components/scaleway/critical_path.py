"""Elastic Metal hosts for the latency-critical trading path, one per role.

Market data, strategy and order management run as systemd services on bare metal (spec 001:
no Kubernetes on the critical path).  Each host gets a reserved private-network address
(IPAM), so the cloud-init, the Prometheus scrape of its node-exporter and the stack outputs
all know it before the server exists.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumiverse_scaleway import elasticmetal, ipam

from components.config import CriticalPathHost, NetworkConfig
from components.scaleway import host_config

PRIVATE_NETWORK_OPTION = "Private Network"


@dataclass(frozen=True)
class CriticalPathHostsArgs:
    prefix: str
    hosts: tuple[CriticalPathHost, ...]
    network: NetworkConfig
    private_network_id: pulumi.Input[str]
    ssh_key_ids: tuple[str, ...]
    endpoints: pulumi.Output[host_config.HostEndpoints]
    protect: bool
    tags: list[str]


def _bare_address(cidr: str) -> str:
    return cidr.split("/")[0]


class CriticalPathHosts(pulumi.ComponentResource):
    def __init__(self, name: str, args: CriticalPathHostsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:infra:CriticalPathHosts", name, None, opts)
        zone = args.network.zone
        self.servers: dict[str, elasticmetal.Server] = {}
        self.private_ips: dict[str, pulumi.Output[str]] = {}
        self.cloud_init: dict[str, pulumi.Output[str]] = {}
        if args.hosts:
            option = elasticmetal.get_option_output(
                name=PRIVATE_NETWORK_OPTION, zone=zone, opts=pulumi.InvokeOutputOptions(parent=self)
            )

        for host in args.hosts:
            invoke = pulumi.InvokeOutputOptions(parent=self)
            offer = elasticmetal.get_offer_output(name=host.offer, zone=zone, opts=invoke)
            os_image = elasticmetal.get_os_output(name=host.os_name, version=host.os_version, zone=zone, opts=invoke)
            address = ipam.Ip(
                f"{name}-{host.role}-ip",
                sources=[ipam.IpSourceArgs(private_network_id=args.private_network_id)],
                region=args.network.region,
                tags=args.tags + [f"role={host.role}"],
                # The host's private address: scrape targets and firewall rules name it.
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            private_ip = address.address.apply(_bare_address)
            document = pulumi.Output.all(private_ip, args.endpoints).apply(
                functools.partial(self._document, host, args.network)
            )
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
                    elasticmetal.ServerPrivateNetworkArgs(id=args.private_network_id, ipam_ip_ids=[address.id])
                ],
                # Changing cloud_init updates user-data without reinstalling the host.
                cloud_init=document,
                # Scaleway refuses to delete a protected server, whatever the caller.
                protected=args.protect,
                tags=args.tags + [f"role={host.role}", "critical-path"],
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.servers[host.role] = server
            self.private_ips[host.role] = private_ip
            self.cloud_init[host.role] = document
        self.register_outputs({"private_ips": self.private_ips})

    @staticmethod
    def _document(host: CriticalPathHost, network: NetworkConfig, resolved: list[Any]) -> str:
        private_ip, endpoints = resolved
        return host_config.render(host, private_ip, network.private_subnet, network.ssh_allow_list, endpoints)
