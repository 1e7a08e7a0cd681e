"""The labels a series carries once Prometheus has scraped it, derived from the rendered objects.

Rule tests write each input series as its exporter exposes it (the exporter's own labels, from
its documentation: ../shared/reference/metrics/) plus pseudo-labels that say where it is scraped:

* ``__scrape__``: the ServiceMonitor (``namespace/name`` or ``name``) or ``additionalScrapeConfigs``
  job that scrapes it;
* ``__replica__``: which pod of the exporter's workload (``0`` by default): a different value is
  another pod, as after a rollout, with another name and address;
* ``__node__``: the node that pod runs on (``__meta_kubernetes_pod_node_name``);
* ``__target__``: for a static scrape job, the index of the target.

``scraped()`` replaces them with the labels Prometheus would store.  The target labels follow the
Prometheus Operator's generated scrape configuration for a ServiceMonitor endpoint
(prometheus-operator Documentation/api-reference: ``jobLabel``, ``honorLabels``; and the
operator's ``generateServiceMonitorConfig``): ``namespace``, ``service``, ``pod``, ``container``
and ``endpoint`` from discovery, ``job`` = the Service's ``jobLabel`` label or else its name,
``instance`` = the pod's address, then the endpoint's ``relabelings``.  Prometheus' own
semantics then apply (prometheus docs, scrape_config ``honor_labels``): with ``honor_labels``
false an exposed label that collides with a target label is stored as ``exported_<name>``;
finally the ``metricRelabelings``.  Nothing here reads the rules.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from offline.manifest_model import Obj, containers, namespace_of, pod_template, selector_matches

PSEUDO = ("__scrape__", "__replica__", "__node__", "__target__")
DEFAULT_NODE = "scw-trading-prod-permanent-4f1c9a2e"


@dataclass(frozen=True)
class Endpoint:
    monitor: str
    namespace: str
    service: Obj
    workload: Obj
    endpoint_label: str | None  # the ``port`` (or ``targetPort``) the ServiceMonitor names
    container: str
    container_port: int
    honor_labels: bool
    relabelings: list[dict[str, Any]] = field(default_factory=list)
    metric_relabelings: list[dict[str, Any]] = field(default_factory=list)
    job_label: str | None = None
    path: str = "/metrics"
    params: dict[str, list[str]] = field(default_factory=dict)


def _target_port(service: Obj, endpoint: dict[str, Any]) -> Any:
    """What the endpoint scrapes on the pod: the Service port's targetPort, or ``targetPort``."""
    if endpoint.get("port"):
        port = next(p for p in service["spec"]["ports"] if p.get("name") == endpoint["port"])
        return port.get("targetPort", port["port"])
    return endpoint["targetPort"]


def _container_port(pod: Obj, target: Any) -> tuple[str, int]:
    """The container, and the port number, behind a port name or number (numbers may be floats
    in objects that went through Pulumi)."""
    target = int(target) if isinstance(target, float) else target
    for container in containers(pod):
        for port in container.get("ports") or []:
            if target in (port.get("name"), int(port.get("containerPort", -1))):
                return str(container["name"]), int(port["containerPort"])
    assert isinstance(target, int), f"no container port named {target}"
    return str(pod["spec"]["containers"][0]["name"]), target


def _selected(monitor: Obj, services: list[Obj]) -> Obj | None:
    """The Service a ServiceMonitor scrapes (the one named like it when it selects several)."""
    spec = monitor["spec"]
    names = (spec.get("namespaceSelector") or {}).get("matchNames") or [namespace_of(monitor)]
    chosen = [
        s
        for s in services
        if namespace_of(s) in names and selector_matches(spec["selector"], s["metadata"].get("labels"))
    ]
    named = [s for s in chosen if s["metadata"]["name"] == monitor["metadata"]["name"]]
    return (named or chosen)[0] if chosen else None


def _backing(service: Obj, workloads: list[Obj]) -> Obj | None:
    selector = service["spec"].get("selector")
    for workload in workloads:
        labels = pod_template(workload)["metadata"].get("labels")  # type: ignore[index]
        if (
            selector
            and namespace_of(workload) == namespace_of(service)
            and selector_matches({"matchLabels": selector}, labels)
        ):
            return workload
    return None


def service_monitor_endpoints(objects: list[tuple[str, Obj]]) -> dict[str, Endpoint]:
    """The first endpoint of every ServiceMonitor, keyed ``namespace/name`` and ``name``.  The
    kubelet, the API server and CoreDNS have no workload in the render and are left out."""
    services = [o for _, o in objects if o["kind"] == "Service"]
    workloads = [o for _, o in objects if pod_template(o) is not None]
    found: dict[str, Endpoint] = {}
    for _, monitor in objects:
        if monitor["kind"] != "ServiceMonitor":
            continue
        service = _selected(monitor, services)
        workload = service and _backing(service, workloads)
        if service is None or workload is None:
            continue
        endpoint = monitor["spec"]["endpoints"][0]
        container, number = _container_port(pod_template(workload), _target_port(service, endpoint))  # type: ignore[arg-type]
        label = endpoint.get("port") or endpoint.get("targetPort")
        entry = Endpoint(
            monitor=monitor["metadata"]["name"],
            namespace=namespace_of(service),
            service=service,
            workload=workload,
            endpoint_label=None if label is None else str(label),
            container=container,
            container_port=number,
            honor_labels=bool(endpoint.get("honorLabels", False)),
            relabelings=list(endpoint.get("relabelings") or []),
            metric_relabelings=list(endpoint.get("metricRelabelings") or []),
            job_label=monitor["spec"].get("jobLabel"),
            path=endpoint.get("path", "/metrics"),
            params=dict(endpoint.get("params") or {}),
        )
        found[f"{namespace_of(monitor)}/{entry.monitor}"] = entry
        found[entry.monitor] = entry
    return found


def additional_scrape_configs(objects: list[tuple[str, Obj]]) -> dict[str, dict[str, Any]]:
    """The chart's ``additionalScrapeConfigs`` Secret, as Prometheus reads it, by job name."""
    for _, obj in objects:
        if obj["kind"] == "Secret" and "additional-scrape-configs.yaml" in (obj.get("data") or {}):
            text = base64.b64decode(obj["data"]["additional-scrape-configs.yaml"]).decode()
            return {job["job_name"]: job for job in yaml.safe_load(text) or []}
    return {}


def _pod_name(workload: Obj, replica: int) -> str:
    name = workload["metadata"]["name"]
    digest = hashlib.sha256(f"{name}/{replica}".encode()).hexdigest()
    if workload["kind"] == "StatefulSet":
        return f"{name}-{replica}"
    if workload["kind"] == "DaemonSet":
        return f"{name}-{digest[:5]}"
    return f"{name}-{digest[5:15]}-{digest[:5]}"


def _pod_ip(workload: Obj, replica: int) -> str:
    digest = hashlib.sha256(f"{workload['metadata']['name']}/{replica}/ip".encode()).digest()
    return f"100.64.{digest[0]}.{digest[1] or 1}"


def _relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus relabelling (docs: relabel_config) for the two actions the rendered monitors
    use, ``replace`` and ``drop``; any other fails loudly rather than being modelled wrong."""
    for rule in rules:
        action = rule.get("action", "replace").lower()
        assert action in ("replace", "drop"), f"relabel action {action!r} is not modelled: {rule}"
        regex = re.compile(f"^(?:{rule.get('regex', '(.*)')})$")
        match = regex.match(rule.get("separator", ";").join(labels.get(s, "") for s in rule.get("sourceLabels") or []))
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            value = match.expand(re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", str(rule.get("replacement", "$1"))))
            if value:
                labels[rule["targetLabel"]] = value
            else:
                labels.pop(rule["targetLabel"], None)
    return labels


def _meta(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def target_labels(endpoint: Endpoint, replica: int = 0, node: str = DEFAULT_NODE) -> dict[str, str]:
    service, pod = endpoint.service, pod_template(endpoint.workload)
    assert pod is not None
    address = f"{_pod_ip(endpoint.workload, replica)}:{endpoint.container_port}"
    service_labels = service["metadata"].get("labels") or {}
    meta = {
        "__address__": address,
        "__metrics_path__": "/metrics",
        "__meta_kubernetes_namespace": endpoint.namespace,
        "__meta_kubernetes_service_name": service["metadata"]["name"],
        "__meta_kubernetes_pod_name": _pod_name(endpoint.workload, replica),
        "__meta_kubernetes_pod_node_name": node,
        "__meta_kubernetes_pod_container_name": endpoint.container,
        **{f"__meta_kubernetes_service_label_{_meta(k)}": v for k, v in service_labels.items()},
        **{f"__meta_kubernetes_pod_label_{_meta(k)}": v for k, v in (pod["metadata"].get("labels") or {}).items()},
    }
    labels = {
        **meta,
        "namespace": endpoint.namespace,
        "service": service["metadata"]["name"],
        "pod": meta["__meta_kubernetes_pod_name"],
        "container": endpoint.container,
        "job": service_labels.get(endpoint.job_label or "", "") or service["metadata"]["name"],
    }
    if endpoint.endpoint_label:
        labels["endpoint"] = endpoint.endpoint_label
    relabelled = _relabel(labels, endpoint.relabelings)
    assert relabelled is not None, f"{endpoint.monitor}: its relabelings drop the target"
    relabelled.setdefault("instance", relabelled["__address__"])
    return {k: v for k, v in relabelled.items() if not k.startswith("__")}


def static_target_labels(job: dict[str, Any], index: int) -> dict[str, str]:
    targets = [(t, group.get("labels") or {}) for group in job["static_configs"] for t in group["targets"]]
    address, labels = targets[index]
    return {"job": job["job_name"], "instance": address, **labels}


def _honour(exposed: dict[str, str], target: dict[str, str], honor: bool) -> dict[str, str]:
    if honor:
        return {**target, **exposed}
    stored = dict(target)
    for name, value in exposed.items():
        stored[f"exported_{name}" if name in target else name] = value
    return stored


class ScrapeModel:
    def __init__(self, objects: list[tuple[str, Obj]]):
        self.endpoints = service_monitor_endpoints(objects)
        self.static_jobs = additional_scrape_configs(objects)

    def job(self, scrape: str) -> str:
        """The ``job`` label of a scrape (a ServiceMonitor's, or a static job's name)."""
        if scrape in self.static_jobs:
            return scrape
        return target_labels(self.endpoints[scrape])["job"]

    def stored_labels(self, labels: dict[str, str]) -> dict[str, str]:
        """The exposed labels joined with the scrape's target labels (``honor_labels``), before
        any metricRelabeling: what an alert or a recorded sample keeps of a scraped series."""
        exposed = {k: v for k, v in labels.items() if k not in PSEUDO}
        scrape = labels.get("__scrape__")
        if scrape is None:
            return exposed
        if scrape in self.static_jobs:
            target = static_target_labels(self.static_jobs[scrape], int(labels.get("__target__", "0")))
            return _honour(exposed, target, bool(self.static_jobs[scrape].get("honor_labels")))
        endpoint = self.endpoints[scrape]
        target = target_labels(endpoint, int(labels.get("__replica__", "0")), labels.get("__node__", DEFAULT_NODE))
        return _honour(exposed, target, endpoint.honor_labels)

    def scraped(self, name: str, labels: dict[str, str]) -> dict[str, str] | None:
        """The label set Prometheus stores for ``name{labels}`` (None: dropped at scrape time)."""
        stored = {"__name__": name, **self.stored_labels(labels)}
        scrape = labels.get("__scrape__")
        if scrape is None or scrape in self.static_jobs:
            return stored
        return _relabel(stored, self.endpoints[scrape].metric_relabelings)


SERIES = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(\{.*\})?\s*$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    match = SERIES.match(text)
    assert match, f"not a series: {text}"
    name, body = match.group(1) or "", (match.group(2) or "{}")[1:-1]
    labels = {m.group(1): m.group(2) for m in LABEL.finditer(body)}
    labels.update({"__name__": labels.get("__name__", name)} if not name else {})
    return name or labels.pop("__name__"), labels


def format_series(labels: dict[str, str]) -> str:
    name = labels["__name__"]
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{body}}}"


def scraped_test_document(doc: dict[str, Any], model: ScrapeModel) -> dict[str, Any]:
    """A ``promtool test rules`` document with every series, expected alert and expected sample
    given the labels Prometheus would store for it."""
    for test in doc["tests"]:
        kept = []
        for series in test.get("input_series") or []:
            name, labels = parse_series(series["series"])
            stored = model.scraped(name, labels)
            if stored is not None:  # dropped by a metricRelabeling: Prometheus never stores it
                kept.append({**series, "series": format_series(stored)})
        test["input_series"] = kept
        for case in test.get("alert_rule_test") or []:
            for alert in case.get("exp_alerts") or []:
                if "__scrape__" in (alert.get("exp_labels") or {}):
                    alert["exp_labels"] = model.stored_labels({k: str(v) for k, v in alert["exp_labels"].items()})
        for case in test.get("promql_expr_test") or []:
            for sample in case.get("exp_samples") or []:
                name, labels = parse_series(sample["labels"])
                if "__scrape__" in labels:
                    sample["labels"] = format_series({**model.stored_labels(labels), "__name__": name})
    return doc
