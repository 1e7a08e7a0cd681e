"""The Kapsule cluster, its three pools, and the Kubernetes provider bound to it.

* ``permanent`` pool: fixed size, never autoscaled, runs the monitoring stack and the
  always-on support services (nodes labelled ``platform.trading/pool=permanent``).
* ``compute`` pool: autoscaled from 0, tainted ``platform.trading/workload=batch:NoSchedule``
  so only fine-tuning / batch pods (which tolerate it) wake it.
* ``low-latency`` pool (optional): Guaranteed-QoS support services with pinned CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumiverse_scaleway import kubernetes as kapsule

from components.config import ClusterConfig, NetworkConfig, PoolConfig
from components.topology import BATCH_TAINT, LOW_LATENCY_TAINT, POOL_LABEL

# Kubelet arguments of the low-latency pool.  Kapsule accepts only the kubelet arguments its
# API lists per Kubernetes version (`scw k8s version get <v> -o json`, available_kubelet_args);
# `cpuManagerPolicy` is one of them.  The spec's `topologyManagerPolicy: single-numa-node` is
# not declared: we could not confirm that Kapsule accepts it, and a pool that silently runs
# without it would pretend a NUMA guarantee it does not give.  See README "Low-latency pool".
LOW_LATENCY_KUBELET_ARGS = {"cpuManagerPolicy": "static"}


@dataclass(frozen=True)
class ClusterArgs:
    prefix: str
    network: NetworkConfig
    cluster: ClusterConfig
    permanent_pool: PoolConfig
    compute_pool: PoolConfig
    low_latency_pool: PoolConfig | None
    private_network_id: pulumi.Input[str]
    # Pools have no public IP: their egress is the Public Gateway, which must be attached to
    # the private network before the cluster is created (the API refuses otherwise).
    gateway_network: pulumi.Resource
    protect: bool  # prod: the cluster and the permanent pool
    api_allow_list: tuple[str, ...]  # who may reach the Kubernetes API, beside Scaleway's ranges
    tags: list[str]


class Cluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("trading:infra:Cluster", name, None, opts)
        cfg = args.cluster
        scaler = cfg.autoscaler

        self.cluster = kapsule.Cluster(
            f"{name}-kapsule",
            name=f"{args.prefix}-kapsule",
            version=cfg.kubernetes_version,
            cni="cilium",
            region=args.network.region,
            private_network_id=args.private_network_id,
            pod_cidr=args.network.pod_cidr,
            service_cidr=args.network.service_cidr,
            # Volumes and load balancers outlive the cluster: deleting the cluster must not
            # delete Prometheus's or Loki's data, nor the load balancers other teams point at.
            delete_additional_resources=False,
            auto_upgrade=kapsule.ClusterAutoUpgradeArgs(
                enable=cfg.auto_upgrade,
                maintenance_window_day=cfg.maintenance_day,
                maintenance_window_start_hour=cfg.maintenance_start_hour,
            ),
            # The compute pool is a batch pool: it must wake as soon as a fine-tuning pod is
            # pending and sleep soon after the run ends, because an idle compute node is the
            # largest avoidable cost.  So: scale down 5m after a scale-up and 5m after a node
            # becomes unneeded (defaults 10m/10m), pick the node type that wastes least, and
            # ignore daemonsets (node-exporter, log agent) when judging a node idle, or the
            # monitoring agents alone would keep a compute node alive.
            autoscaler_config=kapsule.ClusterAutoscalerConfigArgs(
                disable_scale_down=False,
                scale_down_delay_after_add=scaler.scale_down_delay_after_add,
                scale_down_unneeded_time=scaler.scale_down_unneeded_time,
                expander=scaler.expander,
                ignore_daemonsets_utilization=True,
                balance_similar_node_groups=False,
                # Pods with an emptyDir (scratch space of a run) must not pin a node forever.
                skip_nodes_with_local_storage=False,
            ),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[args.gateway_network]),
        )

        self.permanent_pool = self._pool(
            name,
            "permanent",
            args.permanent_pool,
            args,
            autohealing=True,
            labels={POOL_LABEL: "permanent"},
            taints=[],
            # One node runs Prometheus and Alertmanager: an upgrade adds the new node first and
            # drains the old one after (the default, surge 0 / unavailable 1, takes it down).
            upgrade_policy=kapsule.PoolUpgradePolicyArgs(max_surge=1, max_unavailable=0),
            extra_opts=pulumi.ResourceOptions(protect=args.protect),
        )
        # "A mutualized cluster cannot have less than 1 node": the pools that may start empty
        # are created once the permanent pool has its nodes.
        after_permanent = [self.permanent_pool]
        self.compute_pool = self._pool(
            name,
            "compute",
            args.compute_pool,
            args,
            autohealing=True,
            labels={POOL_LABEL: "compute"},
            taints=[BATCH_TAINT],
            # The autoscaler owns the size once the pool exists.
            extra_opts=pulumi.ResourceOptions(ignore_changes=["size"], depends_on=after_permanent),
        )
        self.low_latency_pool = None
        if args.low_latency_pool is not None:
            self.low_latency_pool = self._pool(
                name,
                "low-latency",
                args.low_latency_pool,
                args,
                autohealing=True,
                labels={POOL_LABEL: "low-latency", "latency": "low"},
                taints=[LOW_LATENCY_TAINT],
                kubelet_args=LOW_LATENCY_KUBELET_ARGS,
                extra_opts=pulumi.ResourceOptions(depends_on=after_permanent),
            )

        # The API answers only the allow-list and Scaleway's own ranges (the nodes, runners on
        # Scaleway). No list (dev) leaves Kapsule's default, open to the internet.
        self.acl = None
        if args.api_allow_list:
            self.acl = kapsule.Acl(
                f"{name}-api-acl",
                cluster_id=self.cluster.id,
                region=args.network.region,
                acl_rules=[kapsule.AclAclRuleArgs(scaleway_ranges=True, description="Scaleway ranges: nodes")]
                + [kapsule.AclAclRuleArgs(ip=cidr, description="apiAllowList") for cidr in args.api_allow_list],
                opts=pulumi.ResourceOptions(parent=self),
            )
        kubeconfig = self.cluster.kubeconfigs.apply(lambda kcs: (kcs[0].config_file or "") if kcs else "")
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(kubeconfig)  # the provider's, never exported
        self.ca_certificate: pulumi.Output[str] = self.cluster.kubeconfigs.apply(
            lambda kcs: (kcs[0].cluster_ca_certificate or "") if kcs else ""
        )
        # The API's DNS answers only once a pool exists: the provider waits for the permanent pool,
        # and for the ACL, so a deploy runner outside the allow-list fails at once, not halfway.
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.permanent_pool, *([self.acl] if self.acl is not None else [])]
            ),
        )
        self.register_outputs(
            {
                "cluster_id": self.cluster.id,
                "apiserver_url": self.cluster.apiserver_url,
            }
        )

    def _pool(
        self,
        name: str,
        role: str,
        pool: PoolConfig,
        args: ClusterArgs,
        *,
        autohealing: bool,
        labels: dict[str, str],
        taints: list[dict[str, str]],
        kubelet_args: dict[str, str] | None = None,
        upgrade_policy: kapsule.PoolUpgradePolicyArgs | None = None,
        extra_opts: pulumi.ResourceOptions | None = None,
    ) -> kapsule.Pool:
        opts = pulumi.ResourceOptions(parent=self)
        if extra_opts is not None:
            opts = pulumi.ResourceOptions.merge(opts, extra_opts)
        return kapsule.Pool(
            f"{name}-{role}",
            # The node type is in the name: changing it replaces the pool create-before-delete
            # (a second pool of the same name would be refused), so workloads move, not stop.
            name=f"{role}-{pool.node_type.lower()}",
            cluster_id=self.cluster.id,
            region=args.network.region,
            zone=args.network.zone,
            node_type=pool.node_type,
            # terraform-provider-scaleway#4196: a pool created with size > 0 and min_size 0 came
            # up with min_size 1 until a second apply (fixed by PR #4334).  Creating it at its
            # minimum (size 0 when min is 0) matches the provider's documented default rule
            # ("min_size defaults to 0 if size is 0") with or without the fix.
            size=pool.size,
            min_size=pool.min_size,
            max_size=pool.max_size,
            autoscaling=pool.autoscaling,
            autohealing=autohealing,
            # Nodes reach the internet through the Public Gateway, not their own IP.
            public_ip_disabled=True,
            labels=labels,
            taints=[kapsule.PoolTaintArgs(**t) for t in taints],
            kubelet_args=kubelet_args,
            upgrade_policy=upgrade_policy,
            wait_for_pool_ready=pool.size > 0,
            tags=args.tags + [f"pool={role}"],
            opts=opts,
        )
