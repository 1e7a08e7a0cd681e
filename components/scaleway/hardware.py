"""The hardware of each critical-path host, read from Scaleway at preview time, and the CPU
layout derived from it.

``elasticmetal.get_offer`` answers what the API's ``GET /baremetal/v1/zones/{zone}/offers``
lists: ``cpu[]`` (name, core_count, thread_count), ``memories[]`` (capacity in bytes),
``disks[]`` and ``stock`` (``available``, ``low``, ``empty``); terraform-provider-scaleway
internal/services/baremetal/offer_data_source.go and types.go (flattenCPUs, flattenMemory).

Layout: physical cores 0..P-1 are the first thread of each core; with SMT on, core c's sibling
is CPU c+P (how Linux numbers a single-socket x86 server; the host's self-check verifies it in
/sys/devices/system/cpu/cpu*/topology/thread_siblings_list).  The first ``housekeepingCores``
cores run the kernel, IRQs and agents; the rest are isolated (``isolcpus``, ``nohz_full``,
``rcu_nocbs``); each hot thread gets its own isolated core.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from components.config import Check, CriticalPathHost, HostTuning, Problem, StackConfig, format_cpu_list

GIB = 1024**3
# What the kernel, page cache, Alloy, node-exporter and chrony keep besides the huge pages.
OS_MEMORY_FLOOR_GIB = 8
OS_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class Offer:
    name: str
    stock: str
    cpu_name: str
    cores: int
    threads: int
    memory_bytes: int

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / GIB

    def describe(self) -> str:
        return f"{self.name} ({self.cpu_name}: {self.cores} cores, {self.threads} threads, {self.memory_gib:.0f} GiB)"

    @classmethod
    def from_result(cls, result: Any) -> Offer:
        """From get_offer's result.  The Pulumi provider gives ``cpu`` as one object (the
        API's first CPU): the layout assumes a single socket, as every offer we choose has,
        and the host's self-check verifies the CPU count the kernel brings online."""
        cpu = result.cpu
        return cls(
            name=result.name,
            stock=result.stock or "",
            cpu_name=cpu.name,
            cores=cpu.core_count,
            threads=cpu.thread_count,
            memory_bytes=sum(m.capacity for m in result.memories or []),
        )


OfferLookup = Callable[[str, str], "Offer | None"]  # (offer name, zone) -> the offer, None if unknown


@functools.cache
def scaleway_offer(name: str, zone: str) -> Offer | None:
    """Ask Scaleway (an invoke: it runs at preview and at update)."""
    from pulumiverse_scaleway import elasticmetal

    try:
        return Offer.from_result(elasticmetal.get_offer(name=name, zone=zone))
    except Exception:  # the provider's "not found": the problem says which offers to use
        return None


@dataclass(frozen=True)
class HostLayout:
    role: str
    offer: Offer
    smt: bool
    housekeeping_cores: tuple[int, ...]  # physical cores
    isolated_cores: tuple[int, ...]
    pinned: dict[str, int]  # hot thread -> isolated CPU
    hugepages_1g: int

    @property
    def siblings(self) -> dict[int, int]:
        """Each core's SMT sibling, when SMT is on and the CPU has it."""
        smt = self.smt and self.offer.threads > self.offer.cores
        return {c: c + self.offer.cores for c in range(self.offer.cores)} if smt else {}

    def _with_siblings(self, cores: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted([*cores, *(self.siblings[c] for c in cores if c in self.siblings)]))

    @property
    def online_cpus(self) -> int:
        return self.offer.threads if self.smt else self.offer.cores

    @property
    def housekeeping_list(self) -> str:
        return format_cpu_list(self._with_siblings(self.housekeeping_cores))

    @property
    def isolated_list(self) -> str:
        return format_cpu_list(self._with_siblings(self.isolated_cores))


def chosen_offer(host: CriticalPathHost, zone: str, lookup: OfferLookup) -> Offer | None:
    """The offer a new host is ordered with: ``offer``, or ``fallbackOffer`` while ``offer`` is
    out of stock.  An existing host keeps its hardware (the server ignores offer changes)."""
    primary = lookup(host.offer, zone)
    if primary is not None and primary.stock == "empty" and host.fallback_offer:
        fallback = lookup(host.fallback_offer, zone)
        if fallback is not None and fallback.stock != "empty":
            return fallback
    return primary


def _isolated(host: CriticalPathHost, offer: Offer) -> tuple[int, ...]:
    """The stack's isolatedCores, or every physical core after the housekeeping ones."""
    return host.isolated_cores or tuple(range(host.housekeeping_cores, offer.cores))


def derive(host: CriticalPathHost, offer: Offer, tuning: HostTuning) -> HostLayout:
    """The layout of a host whose config ``problems`` accepted."""
    housekeeping = tuple(range(host.housekeeping_cores))
    isolated = _isolated(host, offer)
    return HostLayout(
        role=host.role,
        offer=offer,
        smt=tuning.smt,
        housekeeping_cores=housekeeping,
        isolated_cores=isolated,
        pinned=dict(zip(host.hot_threads, isolated, strict=False)),
        hugepages_1g=host.hugepages_1g,
    )


def _fit_problems(at: str, host: CriticalPathHost, offer: Offer) -> list[Problem]:
    """Does the host's config fit this offer's CPUs and memory?"""
    problems = []
    where = f"the {host.role} host's offer {offer.describe()}"
    if host.housekeeping_cores >= offer.cores:
        problems.append(
            Problem(
                f"{at}.housekeepingCores",
                str(host.housekeeping_cores),
                f"fewer than the {offer.cores} physical cores of {where}: at least one core must be isolated",
            )
        )
    isolated = _isolated(host, offer)
    if host.isolated_cores:
        outside = [c for c in host.isolated_cores if c >= offer.cores]
        overlap = [c for c in host.isolated_cores if c < host.housekeeping_cores]
        if outside:
            problems.append(
                Problem(
                    f"{at}.isolatedCores",
                    repr(format_cpu_list(host.isolated_cores)),
                    f"physical cores 0-{offer.cores - 1} of {where}: {format_cpu_list(tuple(outside))} is outside "
                    "(the kernel drops an isolcpus/nohz_full list that runs past the last CPU)",
                )
            )
        if overlap:
            problems.append(
                Problem(
                    f"{at}.isolatedCores",
                    repr(format_cpu_list(host.isolated_cores)),
                    f"cores from {host.housekeeping_cores} up: cores 0-{host.housekeeping_cores - 1} are the "
                    "housekeeping cores (housekeepingCores)",
                )
            )
    if len(host.hot_threads) > len(isolated):
        problems.append(
            Problem(
                f"{at}.hotThreads",
                repr(list(host.hot_threads)),
                f"at most {len(isolated)} threads, one per isolated core of {where}",
            )
        )
    keep = max(OS_MEMORY_FLOOR_GIB, OS_MEMORY_SHARE * offer.memory_gib)
    most = int(offer.memory_gib - keep)
    if host.hugepages_1g > most:
        problems.append(
            Problem(
                f"{at}.hugepages1G",
                str(host.hugepages_1g),
                f"at most {max(most, 0)} pages of 1 GiB on {where}: {keep:.0f} GiB stay with the kernel and agents",
            )
        )
    return problems


def _host_problems(at: str, host: CriticalPathHost, zone: str, lookup: OfferLookup) -> list[Problem]:
    primary = lookup(host.offer, zone)
    if primary is None:
        return [Problem(f"{at}.offer", repr(host.offer), f"an Elastic Metal offer Scaleway lists in {zone}")]
    problems = _fit_problems(at, host, primary)
    fallback = lookup(host.fallback_offer, zone) if host.fallback_offer else None
    if host.fallback_offer and fallback is None:
        problems.append(
            Problem(f"{at}.fallbackOffer", repr(host.fallback_offer), f"an Elastic Metal offer listed in {zone}")
        )
    elif fallback is not None:
        if (fallback.cores, fallback.threads) != (primary.cores, primary.threads):
            problems.append(
                Problem(
                    f"{at}.fallbackOffer",
                    repr(fallback.name),
                    f"an offer with the CPU layout of {primary.describe()}, so that the tuning derived for one "
                    f"holds on the other; {fallback.describe()} differs",
                )
            )
        problems += [p for p in _fit_problems(at, host, fallback) if p not in problems]
    return problems


def check(lookup: OfferLookup) -> Check:
    """A preflight check of every host against the offers ``lookup`` answers."""

    def hardware_problems(cfg: StackConfig) -> list[Problem]:
        problems: list[Problem] = []
        if not cfg.network.zone:
            return problems  # the zone's own problem is reported; no offer can be looked up
        for i, host in enumerate(cfg.critical_path_hosts):
            if host.offer:
                problems += _host_problems(f"criticalPathHosts[{i}]", host, cfg.network.zone, lookup)
        return problems

    return hardware_problems


def stock_warnings(cfg: StackConfig, lookup: OfferLookup) -> list[str]:
    """Offers a new host could not be ordered with today.  A warning, not a problem: an
    installed host keeps its hardware whatever the stock (the server ignores offer changes)."""
    warnings = []
    for host in cfg.critical_path_hosts:
        offer = chosen_offer(host, cfg.network.zone, lookup)
        if offer is not None and offer.stock == "empty":
            tried = f"{host.offer} and its fallback {host.fallback_offer}" if host.fallback_offer else host.offer
            warnings.append(
                f"{host.role}: {tried} out of stock in {cfg.network.zone}: a new {host.role} host cannot be "
                "ordered until Scaleway restocks (set another fallbackOffer with the same CPU layout)"
            )
    return warnings


def layouts(cfg: StackConfig, lookup: OfferLookup) -> dict[str, HostLayout]:
    """Each host's layout on the offer it is (or will be) ordered with."""
    found = {}
    for host in cfg.critical_path_hosts:
        offer = chosen_offer(host, cfg.network.zone, lookup)
        assert offer is not None, "preflight accepted an offer Scaleway does not list"
        found[host.role] = derive(host, offer, cfg.host_tuning)
    return found
