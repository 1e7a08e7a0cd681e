"""What Scaleway's API answered, as recorded, for the mock engine: Elastic Metal offers and
an attached server.

The offers are the API's own response (``offline/recorded/``, with the repository, commit,
cassette and date it was recorded on), turned into the shape the Pulumi provider returns
(terraform-provider-scaleway internal/services/baremetal/types.go: flattenCPUs, flattenMemory).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "recorded"

# A server of server-with-ipam-private-network.cassette.yaml (same repository): its private
# network attachment's VLAN and its public addresses, as the API returned them.
RECORDED_VLAN = 3068
RECORDED_IPV4 = "195.154.100.175"
RECORDED_IPV6 = "2001:bc8:1201:a22:b683:51ff:fe0f:778c"


@functools.cache
def offers(zone: str) -> dict[str, dict]:
    path = RECORDED / f"elastic_metal_offers.{zone}.json"
    if not path.exists():
        return {}
    return {o["name"]: o for o in json.loads(path.read_text())["offers"]}


def source(zone: str) -> dict:
    return dict(json.loads((RECORDED / f"elastic_metal_offers.{zone}.json").read_text())["source"])


class OfferNotFound(Exception):
    pass


def get_offer(name: str, zone: str) -> dict[str, Any]:
    """The provider's getOffer result for ``name``, or the not-found error it raises."""
    offer = offers(zone).get(name)
    if offer is None:
        raise OfferNotFound(f"offer {name!r} not found in zone {zone}")
    return {
        "id": f"{zone}/{offer['id']}",
        "offerId": offer["id"],
        "name": offer["name"],
        "zone": zone,
        "stock": offer["stock"],
        "bandwidth": offer["bandwidth"],
        "commercialRange": offer["commercial_range"],
        # The Pulumi provider types `cpu` as one object (pulumiverse_scaleway GetOfferResult.cpu),
        # where the API and Terraform have a list: it carries the first CPU.
        "cpu": {
            "name": offer["cpus"][0]["name"],
            "coreCount": offer["cpus"][0]["core_count"],
            "frequency": offer["cpus"][0]["frequency"],
            "threadCount": offer["cpus"][0]["thread_count"],
        },
        "memories": [
            {"type": m["type"], "capacity": m["capacity"], "frequency": m["frequency"], "isEcc": m["is_ecc"]}
            for m in offer["memories"]
        ],
        "disks": [{"type": d["type"], "capacity": d["capacity"]} for d in offer["disks"]],
    }


def recorded_offer(name: str, zone: str) -> Any:
    """The components' Offer for ``name`` as the recorded API lists it (None if it does not)."""
    from types import SimpleNamespace

    from components.scaleway.hardware import Offer

    try:
        result = get_offer(name, zone)
    except OfferNotFound:
        return None
    return Offer.from_result(
        SimpleNamespace(
            name=result["name"],
            stock=result["stock"],
            cpu=SimpleNamespace(
                name=result["cpu"]["name"],
                core_count=result["cpu"]["coreCount"],
                thread_count=result["cpu"]["threadCount"],
            ),
            memories=[SimpleNamespace(capacity=m["capacity"]) for m in result["memories"]],
        )
    )


def attached_server(state: dict) -> dict:
    """A server's outputs once installed and attached to its private network."""
    state["ips"] = [
        {"id": "ipv4", "address": RECORDED_IPV4, "version": "IPv4", "reverse": ""},
        {"id": "ipv6", "address": RECORDED_IPV6, "version": "IPv6", "reverse": ""},
    ]
    state["privateNetworks"] = [
        {**pn, "vlan": RECORDED_VLAN, "status": "attached"} for pn in state.get("privateNetworks") or []
    ]
    return state
