"""Validation of the critical-path host keys: ``criticalPathHosts`` (one object per role) and
``hostTuning`` (the stack-wide low-latency choices).

What only the hardware can answer (does the offer have the cores, the memory, the stock) is
checked at preview time against Scaleway's answer: components/scaleway/hardware.py.
"""

from __future__ import annotations

import re
from typing import Any

from components.config.model import CriticalPathHost, HostTuning, TimeServer, parse_cpu_list
from components.config.reader import ROLES, Reader, is_dns_name

HOST_FIELDS = (
    "role",
    "offer",
    "fallbackOffer",
    "osName",
    "osVersion",
    "installedOs",
    "allowReinstall",
    "housekeepingCores",
    "isolatedCores",
    "hotThreads",
    "hugepages1G",
)
HOST_SHAPE = (
    "{role, offer, fallbackOffer?, osName, osVersion, installedOs, allowReinstall?, housekeepingCores?, "
    "isolatedCores?, hotThreads?, hugepages1G}"
)
THREAD_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
OFFER_RE = re.compile(r"^EM-[A-Z0-9-]+$")

# Every default below is the choice for a trading host; README "Critical-path hosts" says why.
TUNING_DEFAULTS: dict[str, Any] = {
    # Siblings share a core's caches and execution units: a hot thread's sibling must stay idle,
    # so SMT buys nothing on an isolated core and costs jitter.  `nosmt` turns siblings off.
    "smt": False,
    # C1 only: waking from C6 costs tens of microseconds; `poll` saves the last ~1 us for heat.
    "cStates": "C1",
    # Turbo changes the clock with the load and temperature: latency becomes load-dependent.
    "turbo": False,
    # khugepaged and compaction stall the faulting thread; the service maps its 1 GiB pages.
    "transparentHugepages": "never",
    # The soft-lockup and NMI watchdogs interrupt every core, isolated ones too (nohz_full).
    "watchdogs": False,
    # Interrupt coalescing trades latency for fewer interrupts: off (0 us) for market data.
    "nicRxUsecs": 0,
    # An unattended upgrade restarts services and changes libraries mid-session; kernels are
    # held anyway and rolled by README "Rolling a kernel change".
    "unattendedUpgrades": False,
    # Scaleway publishes no PTP/PPS source for Elastic Metal: NTP from Scaleway's own servers
    # (same network), cross-checked by an authenticated (NTS) public source.
    "timeServers": [{"host": "ntp.online.net", "nts": False}, {"host": "time.cloudflare.com", "nts": True}],
    # MiFID II RTS 25, table 2: 100 us maximum divergence from UTC for high-frequency trading.
    "clockOffsetBoundMicroseconds": 100,
    # The default user of Scaleway's Ubuntu images; phase two connects as it and uses sudo.
    "sshUser": "ubuntu",
}
C_STATES = ("C1", "poll", "default")
THP_MODES = ("never", "madvise")


def _integer(item: dict, name: str, lo: int, hi: int, default: int | None, r: Reader, at: str) -> int:
    value = item.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        r.fail(f"{at}.{name}", value, f"a whole number from {lo} to {hi}")
        return lo
    return value


def _flag(item: dict, name: str, default: bool, r: Reader, at: str) -> bool:
    value = item.get(name, default)
    if not isinstance(value, bool):
        r.fail(f"{at}.{name}", value, "true or false")
        return default
    return value


def _host(r: Reader, at: str, item: dict, seen: set[str], protected: bool) -> CriticalPathHost:
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
            r.fail(f"{at}.{name}", value, "a non-empty name as Scaleway lists it")
    fallback = item.get("fallbackOffer")
    if fallback is not None and (not isinstance(fallback, str) or not OFFER_RE.fullmatch(fallback)):
        r.fail(f"{at}.fallbackOffer", fallback, "an Elastic Metal offer name such as EM-I215E-NVME")
        fallback = None
    elif fallback is not None and fallback == item.get("offer"):
        r.fail(f"{at}.fallbackOffer", fallback, "another offer than `offer`")
    iso_text = item.get("isolatedCores")
    isolated: tuple[int, ...] | None = None
    if iso_text is not None:
        try:
            isolated = parse_cpu_list(iso_text) if isinstance(iso_text, str) else None
        except ValueError:
            isolated = None
        if not isolated:
            r.fail(f"{at}.isolatedCores", iso_text, "a CPU list such as 2-7,10 (ascending ranges, no spaces), or omit")
            isolated = None
    threads = item.get("hotThreads", [])
    if not isinstance(threads, list) or not all(isinstance(t, str) and THREAD_RE.fullmatch(t) for t in threads):
        r.fail(f"{at}.hotThreads", threads, "a list of thread names (lowercase letters, digits, '-'), one core each")
        threads = []
    elif len(set(threads)) != len(threads):
        r.fail(f"{at}.hotThreads", threads, "each thread once: a core is pinned to one thread")
    os_name, os_version = item.get("osName"), item.get("osVersion")
    installed = item.get("installedOs")
    allow = _flag(item, "allowReinstall", False, r, at)
    if installed is not None and not isinstance(installed, str):
        r.fail(f"{at}.installedOs", installed, 'the installed image as "<osName> <osVersion>"')
        installed = None
    if protected and installed is None:
        r.fail(
            f"{at}.installedOs",
            None,
            f'"{os_name} {os_version}" once the host is installed, required when protectStateful is true: '
            "it locks the image, whose change reinstalls the host",
        )
    elif protected and installed != f"{os_name} {os_version}" and not allow:
        r.fail(
            f"{at}.osVersion",
            f"{os_name} {os_version}",
            f"the installed image {installed!r} (installedOs): another image reinstalls the {role} host in "
            "place and wipes it; set allowReinstall: true for that one host, in a maintenance window",
        )
    return CriticalPathHost(
        role=str(role),
        offer=str(item.get("offer")),
        fallback_offer=fallback,
        os_name=str(os_name),
        os_version=str(os_version),
        installed_os=installed,
        allow_reinstall=allow,
        housekeeping_cores=_integer(item, "housekeepingCores", 1, 64, 2, r, at),
        isolated_cores=isolated,
        hot_threads=tuple(threads),
        hugepages_1g=_integer(item, "hugepages1G", 0, 1024, None, r, at),
    )


def hosts(r: Reader, protected: bool) -> tuple[CriticalPathHost, ...]:
    items = r.structured("criticalPathHosts", list, f"a JSON list of hosts: {HOST_SHAPE}")
    found: list[CriticalPathHost] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"criticalPathHosts[{i}]"
        if not isinstance(item, dict):
            r.fail(at, item, f"an object {HOST_SHAPE}")
            continue
        found.append(_host(r, at, item, seen, protected))
    return tuple(found)


def _time_servers(r: Reader, value: Any) -> tuple[TimeServer, ...]:
    at = "hostTuning.timeServers"
    if not isinstance(value, list) or not value:
        r.fail(at, value, "a non-empty list of {host, nts}")
        return ()
    servers = []
    for i, server in enumerate(value):
        if not isinstance(server, dict) or not is_dns_name(str(server.get("host", ""))):
            r.fail(f"{at}[{i}]", server, "an object {host: a DNS name, nts: true|false}")
            continue
        r.unknown_fields(f"{at}[{i}]", server, ("host", "nts"), "a time server")
        servers.append(TimeServer(server["host"], _flag(server, "nts", False, r, f"{at}[{i}]")))
    return tuple(servers)


def host_tuning(r: Reader) -> HostTuning:
    given = r.structured("hostTuning", dict, "an object of low-latency choices (README 'Critical-path hosts')")
    r.unknown_fields("hostTuning", given, tuple(TUNING_DEFAULTS), "hostTuning")
    item = {**TUNING_DEFAULTS, **given}
    at = "hostTuning"
    c_states = item["cStates"]
    if c_states not in C_STATES:
        r.fail(f"{at}.cStates", c_states, f"one of {', '.join(C_STATES)}")
    thp = item["transparentHugepages"]
    if thp not in THP_MODES:
        r.fail(f"{at}.transparentHugepages", thp, f"one of {', '.join(THP_MODES)}")
    user = item["sshUser"]
    if not isinstance(user, str) or not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
        r.fail(f"{at}.sshUser", user, "a Linux user name")
    return HostTuning(
        smt=_flag(item, "smt", False, r, at),
        c_states=str(c_states),
        turbo=_flag(item, "turbo", False, r, at),
        transparent_hugepages=str(thp),
        watchdogs=_flag(item, "watchdogs", False, r, at),
        nic_rx_usecs=_integer(item, "nicRxUsecs", 0, 1000, 0, r, at),
        unattended_upgrades=_flag(item, "unattendedUpgrades", False, r, at),
        time_servers=_time_servers(r, item["timeServers"]),
        clock_offset_bound_us=_integer(item, "clockOffsetBoundMicroseconds", 1, 1_000_000, 100, r, at),
        ssh_user=str(user),
    )
