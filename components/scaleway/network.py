"""The VPC, the regional private network, and the Public Gateway that gives it egress.

Nothing in the private network has a public IP except what must: the Kapsule API (managed
by Scaleway) and the bare-metal hosts' public interface, which cloud-init firewalls down to
SSH from the allow-list.  Kapsule nodes get their outbound traffic through the gateway's NAT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumiverse_scaleway import ipam, network

from components.config import NetworkConfig


@dataclass(frozen=True)
class NetworkArgs:
    prefix: str
    config: NetworkConfig
    protect: bool  # prod: the network, the gateway and its IP, the reserved addresses
    tags: list[str]


class Network(pulumi.ComponentResource):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:infra:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Address-bearing: the private network (every private IP), the gateway's public IP (the
        # egress address trading venues whitelist) and the reserved telemetry address.
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        cfg = args.config

        self.vpc = network.Vpc(f"{name}-vpc", name=f"{args.prefix}-vpc", region=cfg.region, tags=args.tags, opts=kept)
        self.private_network = network.PrivateNetwork(
            f"{name}-private",
            name=f"{args.prefix}-private",
            vpc_id=self.vpc.id,
            region=cfg.region,
            ipv4_subnet=network.PrivateNetworkIpv4SubnetArgs(subnet=cfg.private_subnet),
            tags=args.tags,
            opts=kept,
        )
        self.gateway_ip = network.PublicGatewayIp(f"{name}-gateway-ip", zone=cfg.zone, tags=args.tags, opts=kept)
        self.gateway = network.PublicGateway(
            f"{name}-gateway",
            name=f"{args.prefix}-gateway",
            type="VPC-GW-S",
            zone=cfg.zone,
            ip_id=self.gateway_ip.id,
            # No SSH bastion: the bare-metal hosts take SSH from the allow-list directly.
            bastion_enabled=False,
            tags=args.tags,
            opts=child,
        )
        self.gateway_network = network.GatewayNetwork(
            f"{name}-gateway-network",
            gateway_id=self.gateway.id,
            private_network_id=self.private_network.id,
            enable_masquerade=True,
            ipam_configs=[network.GatewayNetworkIpamConfigArgs(push_default_route=True)],
            zone=cfg.zone,
            opts=child,
        )
        # The address of the telemetry gateway's private load balancer (components/tracing.py),
        # reserved here so the bare-metal hosts know where to send their logs, traces and
        # metrics before the cluster exists.
        self.telemetry_gateway_ip = ipam.Ip(
            f"{name}-telemetry-gateway-ip",
            sources=[ipam.IpSourceArgs(private_network_id=self.private_network.id)],
            region=cfg.region,
            tags=args.tags + ["purpose=telemetry-gateway"],
            opts=kept,
        )
        self.telemetry_gateway_address = self.telemetry_gateway_ip.address.apply(lambda cidr: cidr.split("/")[0])
        self.private_network_id = self.private_network.id
        self.register_outputs({"private_network_id": self.private_network.id, "vpc_id": self.vpc.id})
