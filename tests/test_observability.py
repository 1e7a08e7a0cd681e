"""The observability stack, asserted on the Helm values and Grafana resources the program declares."""

from __future__ import annotations

import json

import pytest
import yaml

from components import preflight
from components.alerting import rules as alerting
from components.config import InvalidConfig
from components.observability import sizing
from offline import engine as offline
from offline.scaleway_api import recorded_offer

RELEASE = "kubernetes:helm.sh/v3:Release"
PERMANENT = {"platform.trading/pool": "permanent"}


def release(result: offline.RenderResult, name: str) -> offline.Registration:
    [found] = [r for r in result.of_type(RELEASE) if r.inputs["name"] == name]
    return found


def values(result: offline.RenderResult, name: str) -> dict:
    return offline.unwrap(release(result, name).inputs.get("values") or {})


def walk(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield path + (key,), value
            yield from walk(value, path + (key,))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from walk(value, path + (i,))


@pytest.mark.parametrize(
    "stack,retention,size,volume", [("prod", "10d", "40GiB", "50Gi"), ("dev", "2d", "8GiB", "10Gi")]
)
def test_prometheus_storage_and_retention(renders, stack, retention, size, volume):
    spec = values(renders[stack], "kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert spec["retention"] == retention and spec["retentionSize"] == size
    assert spec["walCompression"] is True and spec["enableRemoteWriteReceiver"] is True
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "sbs-default-retain"  # Kapsule's class that keeps the disk
    assert claim["resources"]["requests"]["storage"] == volume


def test_prometheus_selects_this_stacks_rules_and_monitors(prod):
    kps = values(prod, "kube-prometheus-stack")
    spec = kps["prometheus"]["prometheusSpec"]
    for kind in ("rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
    selector = spec["ruleSelector"]["matchLabels"]
    rules = prod.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")
    assert len(rules) == len(alerting.rule_files())
    for rule in rules:
        labels = rule.inputs["metadata"]["labels"]
        assert all(labels.get(k) == v for k, v in selector.items()), rule.name
    assert kps["defaultRules"]["labels"] == selector  # the chart's default rules are selected too
    assert kps["crds"]["enabled"] is False


def test_prometheus_rules_wait_for_their_crd(prod):
    crds = release(prod, "prometheus-operator-crds")
    for rule in prod.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        assert crds.urn in rule.depends_on


def test_bare_metal_node_exporters_are_scraped_over_the_private_network(prod, dev):
    [job] = values(prod, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
    assert job["job_name"] == "critical-path-node-exporter"  # the job CriticalPathHostDown watches
    scraped = {c["labels"]["role"]: c["targets"] for c in job["static_configs"]}
    assert scraped == {role: [f"{ip}:9100"] for role, ip in prod.outputs["critical_path_private_ips"].items()}
    assert values(dev, "kube-prometheus-stack")["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"] == []


def test_alertmanager_is_ha_and_reads_the_generated_secret(prod):
    kps = values(prod, "kube-prometheus-stack")
    am = kps["alertmanager"]
    assert am["alertmanagerSpec"]["replicas"] == 2 and am["podDisruptionBudget"]["enabled"] is True
    secret = prod.one("kubernetes:core/v1:Secret", "alerting-alertmanager-config")
    assert am["alertmanagerSpec"]["configSecret"] == secret.inputs["metadata"]["name"]
    assert secret.urn in release(prod, "kube-prometheus-stack").depends_on


def test_grafana_is_https_only_with_a_generated_admin_secret(prod):
    grafana = values(prod, "kube-prometheus-stack")["grafana"]
    domain = prod.config.grafana.domain
    assert grafana["ingress"]["tls"] == [{"secretName": "grafana-tls", "hosts": [domain]}]
    assert grafana["ingress"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert grafana["grafana.ini"]["auth.anonymous"] == {"enabled": False}
    assert grafana["grafana.ini"]["server"]["root_url"] == f"https://{domain}"
    admin = prod.one("kubernetes:core/v1:Secret", "monitoring-grafana-admin")
    assert grafana["admin"]["existingSecret"] == admin.inputs["metadata"]["name"]
    assert offline.is_secret(admin.inputs["stringData"])
    assert grafana["persistence"]["enabled"] is True


@pytest.mark.parametrize("stack,retention", [("prod", "744h"), ("dev", "72h")])
def test_loki_is_monolithic_on_s3_with_credentials_from_a_secret(renders, stack, retention):
    result = renders[stack]
    loki = values(result, "loki")
    [schema] = loki["loki"]["schemaConfig"]["configs"]
    assert schema["store"] == "tsdb" and schema["schema"] == "v13" and schema["object_store"] == "s3"
    s3 = loki["loki"]["storage"]["s3"]
    assert s3["accessKeyId"] == "${S3_ACCESS_KEY_ID}" and s3["secretAccessKey"] == "${S3_SECRET_ACCESS_KEY}"
    assert loki["loki"]["storage"]["bucketNames"]["chunks"] == result.outputs["bucket_names"]["loki"]
    assert "-config.expand-env=true" in loki["singleBinary"]["extraArgs"]
    assert loki["singleBinary"]["extraEnvFrom"] == [{"secretRef": {"name": "telemetry-s3"}}]
    limits = loki["loki"]["limits_config"]
    assert limits["retention_period"] == retention and loki["loki"]["compactor"]["retention_enabled"] is True
    assert limits["ingestion_rate_mb"] == 8 and limits["ingestion_burst_size_mb"] == 16
    assert loki["loki"]["ingester"]["chunk_idle_period"] == "30m"
    assert loki["loki"]["ingester"]["chunk_retain_period"] == "1m"
    secret = result.one("kubernetes:core/v1:Secret", "logs-s3")
    assert offline.is_secret(secret.inputs["stringData"])


def test_tempo_stores_traces_in_its_bucket(prod):
    tempo = values(prod, "tempo")["tempo"]
    trace = tempo["storage"]["trace"]
    assert trace["backend"] == "s3" and trace["s3"]["bucket"] == prod.outputs["bucket_names"]["tempo"]
    assert trace["s3"]["secret_key"] == "${S3_SECRET_ACCESS_KEY}"
    assert tempo["retention"] == "336h"


def test_collector_is_a_pinned_gateway_behind_a_private_load_balancer(prod):
    otel = values(prod, "otel-collector")
    assert otel["mode"] == "deployment" and otel["image"]["repository"] == "otel/opentelemetry-collector-contrib"
    config = otel["config"]
    assert otel["ports"]["metrics"]["enabled"] is True and not otel["ports"]["zipkin"]["enabled"]
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/tempo"]
    assert pipelines["metrics"]["exporters"] == ["prometheusremotewrite"]
    assert pipelines["logs"]["exporters"] == ["otlphttp/loki"]
    for pipeline in pipelines.values():
        assert pipeline["processors"][0] == "memory_limiter" and pipeline["processors"][-1] == "batch"
    assert "k8sattributes" in pipelines["traces"]["processors"]
    annotations = otel["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/scw-loadbalancer-private"] == "true"
    lb = prod.one("scaleway:loadbalancers/loadBalancer:LoadBalancer", "tracing-gateway")
    assert annotations["service.beta.kubernetes.io/scw-loadbalancer-id"] == "tracing-gateway-id"
    assert lb.inputs["assignFlexibleIp"] is False
    assert lb.inputs["privateNetworks"][0]["ipamIds"] == "network-telemetry-gateway-ip-id"


def test_statsd_mapping_gives_the_airflow_names_the_rules_and_panels_read(prod, reference):
    [config_map] = [
        r for r in prod.of_type("kubernetes:core/v1:ConfigMap") if r.name.endswith("statsd-exporter-mapping")
    ]
    mapping = yaml.safe_load(config_map.inputs["data"]["statsd-mapping.yaml"])
    names = {m["name"] for m in mapping["mappings"]}
    assert names == {
        "airflow_scheduler_heartbeat",
        "airflow_dag_processing_total_parse_time",
        "airflow_pool_open_slots",
        "airflow_pool_queued_slots",
        "airflow_pool_running_slots",
        "airflow_ti_failures",
    }
    listed = (reference / "metrics" / "airflow-statsd.txt").read_text()
    for name in names:
        assert f"\t{name}\t" in listed or listed.startswith(f"{name}\t") or f"\n{name}\t" in listed, name
    pools = [m for m in mapping["mappings"] if "pool" in m["name"]]
    assert all(m["labels"] == {"pool": "$1"} and m["match"].endswith(".*") for m in pools)


def test_blackbox_probes_the_configured_external_apis(prod):
    targets = values(prod, "blackbox-exporter")["serviceMonitor"]["targets"]
    assert [t["url"] for t in targets] == list(prod.config.observability.external_probes)


def test_postgres_exporter_password_from_a_secret(prod):
    datasource = values(prod, "postgres-exporter")["config"]["datasource"]
    assert datasource["passwordSecret"] == {"name": "postgres-exporter", "key": "password"}
    assert "password" not in datasource or datasource.get("password") is None
    assert offline.is_secret(prod.one("kubernetes:core/v1:Secret", "exporters-postgres-password").inputs["stringData"])


def test_grafana_data_sources_are_linked(prod):
    sources = {r.inputs["uid"]: r for r in prod.of_type("grafana:oss/dataSource:DataSource")}
    assert set(sources) == {"prometheus", "loki", "tempo", "trading-postgres", "alertmanager"}
    tempo = json.loads(sources["tempo"].inputs["jsonDataEncoded"])
    assert tempo["tracesToLogsV2"]["datasourceUid"] == "loki"
    prometheus = json.loads(sources["prometheus"].inputs["jsonDataEncoded"])
    assert prometheus["exemplarTraceIdDestinations"][0]["datasourceUid"] == "tempo"
    assert offline.is_secret(sources["trading-postgres"].inputs["secureJsonDataEncoded"])
    assert sources["trading-postgres"].inputs["url"] == prod.config.grafana.postgres_host
    provider = prod.one("pulumi:providers:grafana", "grafana-provider")
    assert provider.inputs["url"] == f"https://{prod.config.grafana.domain}"
    assert release(prod, "kube-prometheus-stack").urn in provider.depends_on


def test_no_secret_value_in_any_helm_value(renders):
    for result in renders.values():
        for r in result.of_type(RELEASE):
            text = json.dumps(offline.unwrap(r.inputs.get("values") or {}))
            for secret in [
                *offline.PLACEHOLDERS.values(),
                offline.GENERATED_PASSWORD,
                offline.GENERATED_SECRET_KEY,
                "SCWOFFLINEACCESSKEY0",
            ]:
                assert secret not in text, (r.inputs["name"], secret)


def test_permanent_pool_capacity_figure(prod):
    figure = prod.outputs["permanent_pool_requests"]
    assert figure["limit_percent"] == 80
    assert 0 < figure["cpu_percent"] <= 80 and 0 < figure["memory_percent"] <= 80
    expected_cpu = sum(w.cpu_request * (1 if w.daemonset else w.replicas) for w in sizing.PERMANENT_POOL.values())
    assert figure["cpu_cores"] == pytest.approx(expected_cpu)


def test_a_permanent_node_too_small_is_a_config_error_naming_the_biggest_consumers():
    stack_file = offline.read_stack_file("prod")
    stack_file.values["nodeAllocatable"] = json.dumps(
        {
            "PRO2-S": {"cpu": 2, "memoryGiB": 4},
            "POP2-HC-8C-16G": {"cpu": 7.6, "memoryGiB": 13.4},
            "POP2-HC-16C-32G": {"cpu": 15.4, "memoryGiB": 28.6},
        }
    )
    with pytest.raises(InvalidConfig) as caught:
        preflight.validate(stack_file.values, stack_file.secret_keys, "prod", recorded_offer)
    texts = [str(p) for p in caught.value.problems if p.key == "permanentPoolNodeType"]
    assert any("cores requested" in t and "biggest: prometheus 1 cores" in t for t in texts), texts
    assert any("MiB requested" in t and "biggest: prometheus 4096 MiB" in t for t in texts), texts
