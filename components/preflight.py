"""Everything that must hold before the program declares a resource: the config validator,
plus the checks that need facts outside config (Kapsule versions, prices, the permanent
pool's capacity, the hosts' hardware as Scaleway lists it).  Every problem of every check is
reported at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from components import config
from components.config import Check, StackConfig
from components.observability.sizing import capacity_problems
from components.scaleway import hardware
from components.scaleway.cost import price_problems
from components.scaleway.kubernetes_versions import version_problems

CHECKS: tuple[Check, ...] = (version_problems, price_problems, capacity_problems)


def validate(
    raw: Mapping[str, str | None], secret_keys: Iterable[str], stack: str, offers: hardware.OfferLookup
) -> StackConfig:
    """The validated config of ``stack`` against the offers ``offers`` answers; raises
    config.InvalidConfig listing every problem."""
    return config.load(raw, secret_keys, stack, (*CHECKS, hardware.check(offers)))


def from_pulumi() -> StackConfig:
    """The running stack's validated config, read through the Pulumi SDK; the hosts' offers are
    read from Scaleway (an invoke, so at preview too)."""
    return config.from_pulumi((*CHECKS, hardware.check(hardware.scaleway_offer)))
