"""How the rendered pieces connect: monitors to Services, configured URLs to Services, alert
links to Grafana, the collector's pipeline, exemplars and the service map, and the job names
the pipeline alerts read."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import yaml

from conftest import STACKS
from offline.manifest_model import (
    containers,
    kinds,
    matches,
    name_of,
    namespace_of,
    pods,
    selector_matches,
    services,
)

# Services that exist without being rendered: Kubernetes creates default/kubernetes for the API
# server (labels component=apiserver, provider=kubernetes; port "https"), and the Prometheus
# operator maintains the kubelet Service its --kubelet-service argument names (ports
# https-metrics, http-metrics, cadvisor; labels from the operator's kubelet controller).
CLUSTER_SERVICES = [
    {
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
    },
    {
        "kind": "Service",
        "metadata": {
            "name": "kube-prometheus-stack-kubelet",
            "namespace": "kube-system",
            "labels": {
                "app.kubernetes.io/name": "kubelet",
                "k8s-app": "kubelet",
                "app.kubernetes.io/managed-by": "prometheus-operator",
            },
        },
        "spec": {
            "ports": [
                {"name": "https-metrics", "port": 10250},
                {"name": "http-metrics", "port": 10255},
                {"name": "cadvisor", "port": 4194},
            ]
        },
    },
]


def _service_targets(objects, namespace: str, selector: dict) -> list[dict]:
    """Services a ServiceMonitor's LabelSelector (matchLabels and matchExpressions) selects."""
    candidates = services(objects) + CLUSTER_SERVICES
    return [
        s
        for s in candidates
        if namespace_of(s) == namespace and selector_matches(selector, s["metadata"].get("labels"))
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_monitor_selects_a_port_its_service_has(deployed, stack):
    for source, monitor in [(s, o) for s, o in deployed[stack] if o["kind"] == "ServiceMonitor"]:
        spec = monitor["spec"]
        namespaces = (spec.get("namespaceSelector") or {}).get("matchNames") or [namespace_of(monitor)]
        selected = [s for ns in namespaces for s in _service_targets(deployed[stack], ns, spec["selector"])]
        assert selected, f"{source}: ServiceMonitor {name_of(monitor)} selects no Service in {namespaces}: {spec}"
        for endpoint in spec["endpoints"]:
            if "port" in endpoint:  # a port of the Service, by name
                names = {p.get("name") for s in selected for p in s["spec"]["ports"]}
                assert endpoint["port"] in names, f"{source}: {name_of(monitor)} scrapes {endpoint['port']!r}; {names}"
            else:  # targetPort: a container port of the pods behind the Service
                behind = {
                    (p.get("name"), p["containerPort"])
                    for s in selected
                    for _, workload, pod in pods(deployed[stack])
                    if namespace_of(s) == namespace_of(workload)
                    and matches(s["spec"].get("selector"), pod["metadata"].get("labels"))
                    for c in containers(pod)
                    for p in c.get("ports") or []
                }
                wanted = endpoint["targetPort"]
                assert any(wanted in pair for pair in behind), f"{source}: {name_of(monitor)} scrapes {wanted!r}"


@pytest.mark.parametrize("component", ["loki", "tempo", "otel-collector", "alloy"])
def test_the_telemetry_pipeline_is_itself_scraped(deployed, component):
    sources = {s for s, o in deployed["prod"] if o["kind"] == "ServiceMonitor"}
    assert component in sources


def _config_map(objects, source: str) -> dict:
    [config] = [o for s, o in objects if s == source and o["kind"] == "ConfigMap"]
    return config["data"]


def in_cluster_urls(stack_objects, result) -> list[tuple[str, str]]:
    """(where, URL) of every in-cluster address a generated configuration points at."""
    found = []
    collector = yaml.safe_load(_config_map(stack_objects, "otel-collector")["relay"])
    for exporter, settings in collector["exporters"].items():
        if "endpoint" in settings:
            endpoint = settings["endpoint"]
            found.append((f"collector exporter {exporter}", endpoint if "://" in endpoint else f"grpc://{endpoint}"))
    alloy = _config_map(stack_objects, "alloy")["config.alloy"]
    found += [("alloy loki.write", url) for url in re.findall(r'url\s*=\s*"([^"]+)"', alloy)]
    tempo = yaml.safe_load(_config_map(stack_objects, "tempo")["tempo.yaml"])
    found += [("tempo metrics generator", w["url"]) for w in tempo["metrics_generator"]["storage"]["remote_write"]]
    for source in result.of_type("grafana:oss/dataSource:DataSource"):
        if source.inputs["type"] != "grafana-postgresql-datasource":
            found.append((f"grafana data source {source.inputs['name']}", source.inputs["url"]))
    for output in (
        "prometheus_url",
        "alertmanager_url",
        "loki_push_url",
        "tempo_query_url",
        "otlp_grpc_endpoint",
        "otlp_http_endpoint",
    ):
        found.append((f"output {output}", result.outputs[output]))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_in_cluster_url_reaches_a_rendered_service_and_port(deployed, renders, stack):
    urls = in_cluster_urls(deployed[stack], renders[stack])
    assert len(urls) >= 12
    for where, url in urls:
        parsed = urlparse(url)
        service, namespace, svc = (parsed.hostname or "").split(".")[:3]
        assert svc == "svc", f"{where}: {url} is not an in-cluster Service address"
        matching = [s for s in services(deployed[stack]) if name_of(s) == service and namespace_of(s) == namespace]
        assert matching, f"{where}: no Service {namespace}/{service} is rendered ({url})"
        ports = {p["port"] for s in matching for p in s["spec"]["ports"]}
        assert parsed.port in ports, f"{where}: Service {namespace}/{service} has ports {ports}, not {parsed.port}"


def test_notification_links_open_grafanas_alerting_ui_on_the_alertmanager(deployed, prod):
    [alertmanager] = kinds(deployed["prod"], "Alertmanager")
    external = urlparse(alertmanager["spec"]["externalUrl"])
    [ingress] = [i for i in kinds(deployed["prod"], "Ingress") if "grafana" in name_of(i)]
    [rule] = ingress["spec"]["rules"]
    assert external.scheme == "https" and external.hostname == rule["host"]
    [path] = rule["http"]["paths"]
    assert external.path.startswith(path["path"]) and "grafana" in path["backend"]["service"]["name"]
    assert external.path == "/alerting"  # Grafana's own alerting UI, served behind its login
    assert alertmanager["spec"]["routePrefix"] == "/"  # Alertmanager itself still serves at /
    [datasource] = [d for d in prod.of_type("grafana:oss/dataSource:DataSource") if d.inputs["type"] == "alertmanager"]
    from components.alerting import routing

    # Acknowledging is PagerDuty's; the Slack link opens the alert in Grafana's view of this Alertmanager.
    assert f"{{{{ .ExternalURL }}}}/groups?alertmanager={datasource.inputs['uid']}&" in routing.SLACK_TEXT
    assert "/silence" not in routing.SLACK_TEXT


def test_the_collector_limits_memory_first_and_sends_bounded_batches(deployed):
    relay = yaml.safe_load(_config_map(deployed["prod"], "otel-collector")["relay"])
    for name, pipeline in relay["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name
    batch = relay["processors"]["batch"]
    assert 0 < batch["send_batch_size"] <= batch["send_batch_max_size"]
    [prometheus] = kinds(deployed["prod"], "Prometheus")
    # Two collector replicas write the same series: Prometheus must accept slightly late samples.
    assert prometheus["spec"]["tsdb"]["outOfOrderTimeWindow"]
    [collector] = [o for s, o in deployed["prod"] if s == "otel-collector" and o["kind"] == "Deployment"]
    assert collector["spec"]["replicas"] == 2


def test_exemplar_links_and_the_service_map_have_data_behind_them(deployed, prod):
    [prometheus] = kinds(deployed["prod"], "Prometheus")
    assert "exemplar-storage" in prometheus["spec"]["enableFeatures"]
    tempo = yaml.safe_load(_config_map(deployed["prod"], "tempo")["tempo.yaml"])
    assert set(tempo["overrides"]["defaults"]["metrics_generator"]["processors"]) == {"service-graphs", "span-metrics"}
    assert prometheus["spec"]["enableRemoteWriteReceiver"] is True
    sources = {d.inputs["uid"]: d.inputs for d in prod.of_type("grafana:oss/dataSource:DataSource")}
    import json

    tempo_source = json.loads(sources["tempo"]["jsonDataEncoded"])
    assert tempo_source["serviceMap"]["datasourceUid"] == "prometheus"
    prometheus_source = json.loads(sources["prometheus"]["jsonDataEncoded"])
    assert prometheus_source["exemplarTraceIdDestinations"][0]["datasourceUid"] == "tempo"


def test_the_pipeline_down_alert_matches_the_jobs_the_monitors_produce(deployed, scrape_model):
    from components.alerting import rules as alerting

    [rule] = [
        r
        for r in yaml.safe_load((alerting.RULES_DIR / "pipeline.yaml").read_text())["groups"][0]["rules"]
        if r["alert"] == "TelemetryComponentDown"
    ]
    found = re.search(r'job=~"([^"]+)"', rule["expr"])
    assert found
    pattern = found.group(1)
    for source in ("loki", "tempo", "otel-collector", "alloy"):
        monitors = [o for s, o in deployed["prod"] if s == source and o["kind"] == "ServiceMonitor"]
        jobs = {scrape_model.job(f"{namespace_of(m)}/{name_of(m)}") for m in monitors}
        assert jobs and all(re.fullmatch(pattern, job) for job in jobs), (source, jobs, pattern)


def test_the_collectors_load_balancer_service_is_bound_and_externally_managed(deployed, prod):
    """Scaleway's CCM deletes a load balancer it believes it owns with its Service: the rendered
    Service must name the Pulumi-created one and say it is managed elsewhere."""
    [lb] = prod.of_type("scaleway:loadbalancers/loadBalancer:LoadBalancer")
    [service] = [o for s, o in deployed["prod"] if s == "otel-collector" and o["kind"] == "Service"]
    annotations = service["metadata"]["annotations"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert annotations["service.beta.kubernetes.io/scw-loadbalancer-id"] == f"{lb.name}-id"
    assert annotations["service.beta.kubernetes.io/scw-loadbalancer-externally-managed"] == "true"
    assert {p["port"] for p in service["spec"]["ports"]} == {4317, 4318, 8888}
