"""Reading rendered manifests the way Kubernetes does: pods behind workloads, Services and
their ports, label selectors, quantities.  Shared by the manifest tests; no expectation here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


def name_of(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def namespace_of(obj: Obj, default: str = "monitoring") -> str:
    return str(obj["metadata"].get("namespace") or default)


def pod_template(obj: Obj) -> Obj | None:
    """The pod a workload runs (metadata and spec), or None for other kinds."""
    kind = obj["kind"]
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if kind in WORKLOADS:
        return obj["spec"]["template"]
    return None


def containers(pod: Obj) -> list[Obj]:
    spec = pod["spec"]
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def pods(objects: list[tuple[str, Obj]]) -> Iterator[tuple[str, Obj, Obj]]:
    """(source, workload, pod template) of every workload."""
    for source, obj in objects:
        pod = pod_template(obj)
        if pod is not None:
            yield source, obj, pod


def replicas(obj: Obj) -> int:
    return int(obj["spec"].get("replicas", 1)) if obj["kind"] in ("Deployment", "StatefulSet") else 1


def matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; None selects nothing."""
    if selector is None:
        return False
    labels = labels or {}
    if not matches(selector.get("matchLabels"), labels):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


_CPU = re.compile(r"^([0-9.]+)(m?)$")
_MEMORY = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "K": 1000 / 1024**2,
    "M": 1000**2 / 1024**2,
    "G": 1000**3 / 1024**2,
}


def cpu_cores(quantity: str | int | float) -> float:
    match = _CPU.match(str(quantity))
    assert match, f"not a CPU quantity: {quantity!r}"
    return float(match.group(1)) / (1000 if match.group(2) else 1)


def memory_mib(quantity: str | int) -> float:
    match = re.match(r"^([0-9.]+)([KMGT]i?)?$", str(quantity))
    assert match, f"not a memory quantity: {quantity!r}"
    unit = match.group(2)
    return float(match.group(1)) * (_MEMORY[unit] if unit else 1 / 1024**2)


def kinds(objects: list[tuple[str, Obj]], kind: str) -> list[Obj]:
    return [o for _, o in objects if o["kind"] == kind]


def services(objects: list[tuple[str, Obj]]) -> list[Obj]:
    return [o for _, o in objects if o["kind"] == "Service"]
