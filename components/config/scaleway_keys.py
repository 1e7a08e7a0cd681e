"""Validation of the Scaleway-side keys: region and network, cluster, pools, critical-path hosts."""

from components.config.model import (
    AutoscalerConfig,
    ClusterConfig,
    CriticalPathHost,
    NetworkConfig,
    PoolConfig,
    format_cpu_list,
    parse_cpu_list,
)
from components.config.reader import (
    AUTOSCALER_EXPANDERS,
    K8S_VERSION_RE,
    RFC1918,
    ROLES,
    WEEKDAYS,
    ZONES_BY_REGION,
    Reader,
    ipv4_network,
    is_name,
    is_positive_duration,
)

HOST_FIELDS = ("role", "offer", "osName", "osVersion", "cores", "isolatedCores", "hugepages1G")


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


def hosts(r: Reader) -> tuple[CriticalPathHost, ...]:
    items = r.structured(
        "criticalPathHosts",
        list,
        "a JSON list of hosts: {role, offer, osName, osVersion, cores, isolatedCores, hugepages1G}",
    )
    hosts: list[CriticalPathHost] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"criticalPathHosts[{i}]"
        if not isinstance(item, dict):
            r.fail(at, item, "an object {role, offer, osName, osVersion, cores, isolatedCores, hugepages1G}")
            continue
        r.unknown_fields(at, item, HOST_FIELDS, "a host")
        role = item.get("role")
        if role not in ROLES:
            r.fail(f"{at}.role", role, f"one of {', '.join(ROLES)}")
        elif role in seen:
            r.fail(f"{at}.role", role, "each role once: one host per role")
        seen.add(str(role))
        for name in ("offer", "osName", "osVersion"):
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                r.fail(f"{at}.{name}", item.get(name), "a non-empty name as Scaleway lists it")
        cores = item.get("cores")
        if not isinstance(cores, int) or isinstance(cores, bool) or not 2 <= cores <= 512:
            r.fail(f"{at}.cores", cores, "the host's logical CPU count, a whole number from 2 to 512")
            cores = 0
        iso_text = item.get("isolatedCores")
        isolated: tuple[int, ...] = ()
        try:
            isolated = parse_cpu_list(str(iso_text)) if isinstance(iso_text, str) else parse_cpu_list("")
        except ValueError:
            r.fail(f"{at}.isolatedCores", iso_text, "a CPU list such as 2-7,10 (ascending ranges, no spaces)")
        if isolated and cores:
            outside = [c for c in isolated if c >= cores]
            if outside:
                r.fail(
                    f"{at}.isolatedCores",
                    iso_text,
                    f"cores within 0-{cores - 1} (the host has {cores}); {format_cpu_list(tuple(outside))} is outside",
                )
            elif 0 in isolated:
                r.fail(f"{at}.isolatedCores", iso_text, "core 0 must stay a housekeeping core")
            elif len(isolated) >= cores - 1:
                r.fail(
                    f"{at}.isolatedCores",
                    iso_text,
                    f"at least 2 of the {cores} cores left for housekeeping (kernel, IRQs, node-exporter, agents)",
                )
        pages = item.get("hugepages1G")
        if not isinstance(pages, int) or isinstance(pages, bool) or not 0 <= pages <= 1024:
            r.fail(f"{at}.hugepages1G", pages, "a whole number of 1 GiB huge pages from 0 to 1024")
            pages = 0
        hosts.append(
            CriticalPathHost(
                str(role),
                str(item.get("offer")),
                str(item.get("osName")),
                str(item.get("osVersion")),
                cores,
                isolated,
                pages,
            )
        )
    return tuple(hosts)
