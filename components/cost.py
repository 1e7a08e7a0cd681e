"""The hourly cost estimate of a stack, from the price table in its config."""

from __future__ import annotations

from components.config import StackConfig
from dashboards.infrastructure import CostModel


def estimate(cfg: StackConfig) -> dict:
    """EUR per hour: idle (compute pool at its minimum) and busy (compute pool at its maximum)."""
    prices = cfg.prices
    node = prices.node_types
    permanent = cfg.permanent_pool.size * node[cfg.permanent_pool.node_type]
    low_latency = (cfg.low_latency_pool.size * node[cfg.low_latency_pool.node_type]
                   if cfg.low_latency_pool else 0.0)
    compute_node = node[cfg.compute_pool.node_type]
    bare_metal = {h.role: prices.offers[h.offer] for h in cfg.critical_path_hosts}
    fixed = permanent + low_latency + sum(bare_metal.values()) + prices.public_gateway
    return {
        "prices_read_on": prices.read_on,
        "currency": "EUR",
        "permanent_pool": round(permanent, 4),
        "low_latency_pool": round(low_latency, 4),
        "compute_per_active_node": round(compute_node, 4),
        "bare_metal_hosts": {role: round(v, 4) for role, v in bare_metal.items()},
        "public_gateway": round(prices.public_gateway, 4),
        "idle": round(fixed + cfg.compute_pool.min_size * compute_node, 4),
        "busy": round(fixed + cfg.compute_pool.max_size * compute_node, 4),
    }


def dashboard_cost_model(cfg: StackConfig):
    """What the dashboard's Cost EUR/h stat multiplies: fixed part and price per compute node."""
    parts = estimate(cfg)
    fixed = parts["idle"] - cfg.compute_pool.min_size * parts["compute_per_active_node"]
    return CostModel(fixed=round(fixed, 4), compute_node=parts["compute_per_active_node"], read_on=parts["prices_read_on"])
