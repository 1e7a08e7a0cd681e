"""Validation of the Scaleway-side keys: region and network, cluster, pools, critical-path hosts."""

from components.config.model import (
    AutoscalerConfig,
    ClusterConfig,
    NetworkConfig,
    PoolConfig,
)
from components.config.reader import (
    AUTOSCALER_EXPANDERS,
    K8S_VERSION_RE,
    RFC1918,
    WEEKDAYS,
    ZONES_BY_REGION,
    Reader,
    ipv4_network,
    is_name,
    is_positive_duration,
)


def network(r: Reader) -> NetworkConfig:
    region = r.text("region", lambda v: v in ZONES_BY_REGION, f"one of {', '.join(ZONES_BY_REGION)}")
    zone = r.text(
        "zone",
        lambda v: v in ZONES_BY_REGION.get(region, ()),
        f"a zone of region {region or '?'}: {', '.join(ZONES_BY_REGION.get(region, ())) or 'fix region first'}",
    )
    nets = {}
    for key in ("privateSubnet", "podCidr", "serviceCidr"):
        nets[key] = ipv4_network(r, key, r.raw.get(key))
    private = nets["privateSubnet"]
    if private is not None and not any(private.subnet_of(block) for block in RFC1918):
        r.fail("privateSubnet", str(private), "a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918)")
    if private is not None and not 20 <= private.prefixlen <= 28:
        r.fail("privateSubnet", str(private), "a prefix length from /20 to /28 (Scaleway private networks)")
    parsed = [(key, net) for key, net in nets.items() if net is not None]
    for i, (a, net_a) in enumerate(parsed):
        for b, net_b in parsed[i + 1 :]:
            if net_a.overlaps(net_b):
                r.fail(a, str(net_a), f"must not overlap {b} ({net_b})")
    allow = r.structured("sshAllowList", list, "a JSON list of CIDRs allowed to reach SSH on the bare-metal hosts")
    for i, cidr in enumerate(allow):
        network = ipv4_network(r, f"sshAllowList[{i}]", cidr)
        if network is not None and network.prefixlen == 0:
            r.fail(f"sshAllowList[{i}]", cidr, "a bounded range, not the whole internet")
    return NetworkConfig(
        region,
        zone,
        str(private or ""),
        str(nets["podCidr"] or ""),
        str(nets["serviceCidr"] or ""),
        tuple(str(c) for c in allow),
    )


def cluster(r: Reader) -> ClusterConfig:
    duration = "a duration such as 30s, 10m or 1h (number and unit: ms, s, m, h, d, w, y)"
    return ClusterConfig(
        kubernetes_version=r.text(
            "kubernetesVersion",
            lambda v: bool(K8S_VERSION_RE.fullmatch(v)),
            "a Kapsule Kubernetes version: a minor such as 1.35 or a patch such as 1.35.2",
        ),
        auto_upgrade=r.boolean("autoUpgrade"),
        maintenance_day=r.text("maintenanceDay", lambda v: v in WEEKDAYS, f"one of {', '.join(WEEKDAYS)}"),
        maintenance_start_hour=r.integer("maintenanceStartHour", 0, 23),
        autoscaler=AutoscalerConfig(
            scale_down_delay_after_add=r.text(
                "autoscalerScaleDownDelayAfterAdd", is_positive_duration, f"{duration}, above zero"
            ),
            scale_down_unneeded_time=r.text(
                "autoscalerScaleDownUnneededTime", is_positive_duration, f"{duration}, above zero"
            ),
            expander=r.text(
                "autoscalerExpander", lambda v: v in AUTOSCALER_EXPANDERS, f"one of {', '.join(AUTOSCALER_EXPANDERS)}"
            ),
        ),
    )


def node_type(r: Reader, key: str) -> str:
    return r.text(key, is_name, "a Scaleway node type name such as PRO2-S (letters, digits, '-', '_', '.')")


def pools(r: Reader) -> tuple[PoolConfig, PoolConfig, PoolConfig | None]:
    size = r.integer("permanentPoolSize", 1, 100)
    permanent = PoolConfig(node_type(r, "permanentPoolNodeType"), size, size, size, autoscaling=False)
    c_min = r.integer("computePoolMinSize", 0, 100)
    c_max = r.integer("computePoolMaxSize", 1, 100)
    if c_max < c_min:
        r.fail("computePoolMaxSize", str(c_max), f"at least computePoolMinSize ({c_min})")
    # Created at its minimum: with min 0 the pool starts empty (see components/cluster.py on
    # terraform-provider-scaleway#4196 for why size must be 0 too).
    compute = PoolConfig(node_type(r, "computePoolNodeType"), c_min, c_min, c_max, autoscaling=True)
    low_latency = None
    if r.boolean("lowLatencyPoolEnabled"):
        size = r.integer("lowLatencyPoolSize", 1, 100)
        low_latency = PoolConfig(node_type(r, "lowLatencyPoolNodeType"), size, size, size, False)
    return permanent, compute, low_latency
