"""Reading raw (string) config values while recording every problem, and the value rules
several key groups share."""

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from components.config import schema
from components.config.model import (
    Problem,
    SecretValue,
    StackConfig,
    shown,
)

# Scaleway regions and the zones in them (https://www.scaleway.com/en/docs/account/reference-content/products-availability/).
ZONES_BY_REGION: dict[str, tuple[str, ...]] = {
    "fr-par": ("fr-par-1", "fr-par-2", "fr-par-3"),
    "nl-ams": ("nl-ams-1", "nl-ams-2", "nl-ams-3"),
    "pl-waw": ("pl-waw-1", "pl-waw-2", "pl-waw-3"),
}
WEEKDAYS = ("any", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ROLES = ("market-data", "strategy", "order-management")
AUTOSCALER_EXPANDERS = ("random", "most_pods", "least_waste", "priority", "price")

DURATION_RE = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
K8S_VERSION_RE = re.compile(r"^1\.[0-9]{2}(\.[0-9]+)?$")
SLACK_CHANNEL_RE = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
BUCKET_SUFFIX_RE = re.compile(r"^[a-z0-9]{8,16}$")

T = TypeVar("T")
Check = Callable[[StackConfig], Iterable[Problem]]


class Reader:
    """Reads raw string config, recording problems instead of raising."""

    def __init__(self, raw: Mapping[str, str | None], secret_keys: frozenset[str]):
        self.raw = raw
        self.secret_keys = secret_keys
        self.problems: list[Problem] = []

    def fail(self, key: str, value: Any, allowed: str) -> None:
        """Record a problem; a secret's value is never shown, encrypted or not."""
        base = key.split("[")[0].split(".")[0]
        hidden = base in self.secret_keys or base in schema.SECRET_KEYS
        self.problems.append(Problem(key, "[secret]" if hidden else shown(value), allowed))

    def text(self, key: str, check: Callable[[str], bool] = bool, allowed: str = "a non-empty string") -> str:
        value = self.raw.get(key)
        if isinstance(value, str) and value != value.strip():
            self.fail(key, value, f"{allowed}, with no leading or trailing spaces or newlines")
            return ""
        if value is None or not check(value):
            self.fail(key, value, allowed)
            return ""
        return value

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self.raw.get(key)
        try:
            number = int(str(value))
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            self.fail(key, value, f"a whole number from {lo} to {hi}")
            return lo
        return number

    def boolean(self, key: str) -> bool:
        value = self.raw.get(key)
        if str(value).lower() not in ("true", "false"):
            self.fail(key, value, "true or false")
            return False
        return str(value).lower() == "true"

    def structured(self, key: str, kind: type[T], allowed: str) -> T:
        value = self.raw.get(key)
        try:
            parsed = json.loads(value) if value is not None else None
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, kind):
            self.fail(key, value, allowed)
            return kind()
        return parsed

    def secret(self, key: str, check: Callable[[str], bool] = bool, allowed: str = "a non-empty secret") -> SecretValue:
        value = self.raw.get(key)
        if value is None:
            self.fail(key, None, f"required secret: set it with `pulumi config set --secret {key} ...`")
        elif key not in self.secret_keys:
            self.fail(key, value, f"must be stored encrypted: `pulumi config set --secret {key} ...`")
        elif not check(value):
            self.fail(key, value, allowed)
        return SecretValue(value or "")

    def unknown_fields(self, at: str, item: Mapping[str, Any], fields: tuple[str, ...], what: str) -> None:
        """A problem for every field of an object that ``fields`` does not list, with the
        closest known field as a suggestion."""
        for name in sorted(set(item) - set(fields)):
            close = suggestion(str(name), fields)
            hint = f"did you mean {close}?" if close else f"one of {', '.join(fields)}"
            self.fail(f"{at}.{name}", item[name], f"not a field of {what}: {hint}")


def suggestion(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a misspelt one, if any is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.fullmatch(value))


def is_https_url(value: str) -> bool:
    """https, a host, an optional port and path; no braces (they would land inside alert
    annotation templates), quotes or spaces."""
    return bool(re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s{}\"'<>\\]*)?", value))


def is_positive_duration(value: str) -> bool:
    """A Prometheus-style duration greater than zero (Loki reads 0h as keep forever)."""
    return bool(DURATION_RE.fullmatch(value)) and any(int(n) > 0 for n in re.findall(r"[0-9]+", value))


def is_dns_name(value: str) -> bool:
    labels = value.split(".")
    return (
        len(value) <= 253
        and len(labels) >= 2
        and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels)
    )


RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def is_name(value: str) -> bool:
    return bool(NAME_RE.fullmatch(value))


def ipv4_network(reader: Reader, key: str, value: Any) -> ipaddress.IPv4Network | None:
    """An IPv4 network written canonically (what nft, the API and the program write back)."""
    allowed = "an IPv4 network in canonical CIDR form with no host bits set, e.g. 172.16.0.0/22"
    try:
        network = ipaddress.IPv4Network(str(value), strict=True)
    except ValueError:
        reader.fail(key, value, allowed)
        return None
    if str(network) != value:
        reader.fail(key, value, f"{allowed} (write {network}: nft rejects netmask and zero-padded forms)")
        return None
    return network
