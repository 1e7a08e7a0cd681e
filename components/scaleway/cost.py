"""The hourly cost of a stack, from the price table ``prices.yaml`` (each price with its
source and read date).  Everything that bills is counted except what depends on usage
(object storage); the output says which figures were not re-read from Scaleway's API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from components.config import Problem, StackConfig

PRICES_FILE = Path(__file__).with_name("prices.yaml")
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Price:
    eur: float
    source: str
    read_on: str
    verified: bool


@cache
def _table() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PRICES_FILE.read_text())
    return document


def _price(entry: Mapping[str, Any]) -> Price:
    return Price(float(entry["eur"]), str(entry["source"]), str(entry["readOn"]), bool(entry["verified"]))


def node_type_price(node_type: str) -> Price | None:
    entry = _table()["hourly"]["nodeTypes"].get(node_type)
    return _price(entry) if entry else None


def offer_price(offer: str) -> Price | None:
    entry = _table()["hourly"]["offers"].get(offer)
    return _price(entry) if entry else None


def item_price(name: str) -> Price:
    hourly = _table()["hourly"]
    return _price(hourly[name] if name in hourly else _table()["perGiBMonth"][name])


def price_problems(cfg: StackConfig) -> list[Problem]:
    """A node type or offer without a price would make the cost output a guess."""
    problems = []
    pools = (
        ("permanentPoolNodeType", cfg.permanent_pool),
        ("computePoolNodeType", cfg.compute_pool),
        ("lowLatencyPoolNodeType", cfg.low_latency_pool),
    )
    known_types = ", ".join(_table()["hourly"]["nodeTypes"])
    for key, pool in pools:
        if pool is not None and pool.node_type and node_type_price(pool.node_type) is None:
            problems.append(
                Problem(
                    key, repr(pool.node_type), f"a node type priced in components/scaleway/prices.yaml ({known_types})"
                )
            )
    for i, host in enumerate(cfg.critical_path_hosts):
        if host.offer and offer_price(host.offer) is None:
            problems.append(
                Problem(
                    f"criticalPathHosts[{i}].offer",
                    repr(host.offer),
                    f"an offer priced in components/scaleway/prices.yaml ({', '.join(_table()['hourly']['offers'])})",
                )
            )
    return problems


def estimate(cfg: StackConfig, volumes_gib: Mapping[str, int]) -> dict[str, Any]:
    """EUR per hour: idle (compute pool at its minimum) and busy (compute pool at its maximum),
    each part with the price it used, and the items whose price was not re-read."""
    parts: dict[str, float] = {}
    used: dict[str, Price] = {}

    def add(part: str, count: float, price_name: str, price: Price | None) -> None:
        assert price is not None, f"{price_name} has no price (price_problems should have refused it)"
        parts[part] = parts.get(part, 0.0) + count * price.eur
        used[price_name] = price

    add(
        "permanent_pool",
        cfg.permanent_pool.size,
        cfg.permanent_pool.node_type,
        node_type_price(cfg.permanent_pool.node_type),
    )
    if cfg.low_latency_pool is not None:
        add(
            "low_latency_pool",
            cfg.low_latency_pool.size,
            cfg.low_latency_pool.node_type,
            node_type_price(cfg.low_latency_pool.node_type),
        )
    for host in cfg.critical_path_hosts:
        add(f"bare_metal_{host.role}", 1, host.offer, offer_price(host.offer))
        add(f"bare_metal_{host.role}", 1, "privateNetworkOption", item_price("privateNetworkOption"))
    for item in ("publicGateway", "publicGatewayIp", "loadBalancer"):
        add(item, 1, item, item_price(item))
    storage = item_price("blockStorage")
    add("block_volumes", sum(volumes_gib.values()) / HOURS_PER_MONTH, "blockStorage", storage)
    compute = node_type_price(cfg.compute_pool.node_type)
    assert compute is not None
    used[cfg.compute_pool.node_type] = compute
    fixed = sum(parts.values())
    return {
        "currency": "EUR",
        "idle": round(fixed + cfg.compute_pool.min_size * compute.eur, 4),
        "busy": round(fixed + cfg.compute_pool.max_size * compute.eur, 4),
        "fixed": round(fixed, 4),
        "compute_per_active_node": round(compute.eur, 4),
        "parts": {name: round(value, 4) for name, value in sorted(parts.items())},
        "volumes_gib": dict(sorted(volumes_gib.items())),
        "prices": {
            name: {"eur": p.eur, "source": p.source, "read_on": p.read_on, "verified": p.verified}
            for name, p in sorted(used.items())
        },
        "unverified_prices": sorted(name for name, p in used.items() if not p.verified),
        "not_estimated": ["object storage (per GB stored and egress)"],
    }
