"""Alert and recording rules: promtool for real, on the files in rules/ and on the files the
render writes; every spec alert present and complete; real metric names; runbooks linked."""

from __future__ import annotations

import copy
import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components.alerting import rules as alerting
from conftest import ROOT, STACKS, require_tool, selfcheck_metrics
from offline import render
from offline.scrape_model import ScrapeModel, parse_series, scraped_test_document

RULES = ROOT / "rules"
RUNBOOKS = ROOT / "runbooks"

# The spec's alerts (003, "Alerting Rules") by severity, with the `for` the spec gives.
SPEC_ALERTS: dict[str, dict[str, str | None]] = {
    "critical": {
        "NodeDown": "2m",
        "ContainerOOMKilled": None,
        "PodCrashLooping": "5m",
        "PersistentVolumeFull": "5m",
        "DBConnectionSaturated": "5m",
        "AirflowSchedulerDown": "2m",
    },
    "warning": {
        "NodeCPUSaturated": "10m",
        "NodeMemoryPressure": "5m",
        "FineTunePodStuckPending": "10m",
        "ComputeNodeIdle": "30m",
        "CPUThrottlingHigh": "10m",
        "AirflowSchedulerHeartbeatLate": "2m",
        "CertificateExpiringSoon": "24h",
        "HTTP5xxSpike": "5m",
    },
    "info": {
        "ComputeScaleUp": None,
        "ComputeScaleDown": None,
        "FineTuneRunStarted": None,
        "FineTuneRunCompleted": None,
    },
}
# F1 Drift (the spec's 9th warning) is a Grafana-managed rule on PostgreSQL: see README.


def all_rules(directory: Path = RULES) -> list[dict]:
    rules = []
    for path in sorted(directory.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += group["rules"]
    return rules


def alerts() -> dict[str, dict]:
    return {r["alert"]: r for r in all_rules() if "alert" in r}


def test_promtool_check_rules_is_clean():
    promtool = require_tool("promtool")
    run = subprocess.run([promtool, "check", "rules", *map(str, alerting.rule_files())], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "WARNING" not in run.stdout + run.stderr


def run_rule_tests(tmp_path: Path, model: ScrapeModel, rules_dir: Path, base: str) -> subprocess.CompletedProcess:
    """rules/tests/*.test.yaml with each series given the labels the scrape stores (see
    offline/scrape_model.py), the rule files taken from ``rules_dir``; promtool runs them."""
    promtool = require_tool("promtool")
    tests_dir = tmp_path / "rules-tests"
    tests_dir.mkdir()
    for test in sorted((RULES / "tests").glob("*.test.yaml")):
        doc = yaml.safe_load(test.read_text().replace(alerting.RUNBOOK_PLACEHOLDER_BASE, base))
        doc["rule_files"] = [str(rules_dir / Path(f).name) for f in doc["rule_files"]]
        (tests_dir / test.name).write_text(yaml.safe_dump(scraped_test_document(doc, model), sort_keys=False))
    tests = sorted(map(str, tests_dir.iterdir()))
    return subprocess.run([promtool, "test", "rules", *tests], capture_output=True, text=True)


def test_promtool_unit_tests_pass_on_the_source_rules(scrape_model, tmp_path):
    assert len(list((RULES / "tests").glob("*.test.yaml"))) >= 3
    run = run_rule_tests(tmp_path, scrape_model, RULES, alerting.RUNBOOK_PLACEHOLDER_BASE)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_passes_on_the_rendered_rule_files(renders, scrape_model, stack, tmp_path):
    """The files the render writes are the ones checked: same rules, stack's runbook base."""
    promtool = require_tool("promtool")
    render.write(renders[stack], tmp_path)
    rendered = sorted((tmp_path / "rules").glob("*.yaml"))
    assert [p.name for p in rendered] == [f"trading-platform-{p.stem}.yaml" for p in alerting.rule_files()]
    run = subprocess.run([promtool, "check", "rules", *map(str, rendered)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    for path in rendered:  # the tests name the source files
        path.rename(path.with_name(path.name.removeprefix("trading-platform-")))
    base = renders[stack].config.alerting.runbook_base_url
    run = run_rule_tests(tmp_path, scrape_model, tmp_path / "rules", base)
    assert run.returncode == 0, run.stdout + run.stderr
    for rule in all_rules(tmp_path / "rules"):
        url = rule.get("annotations", {}).get("runbook_url")
        if url:
            assert url.startswith(base + "/"), url


@pytest.mark.parametrize("severity", SPEC_ALERTS)
def test_every_spec_alert_exists_with_its_severity_and_for(severity):
    found = alerts()
    for name, duration in SPEC_ALERTS[severity].items():
        assert name in found, f"spec alert {name} missing"
        assert found[name]["labels"]["severity"] == severity
        assert found[name].get("for") == duration, name


def test_watchdog_and_info_inhibitor_as_in_kube_prometheus():
    found = alerts()
    assert found["Watchdog"]["expr"].strip() == "vector(1)"
    assert found["Watchdog"]["labels"] == {"severity": "none", "runbook": "WATCHDOG"}
    assert found["InfoInhibitor"]["labels"] == {"severity": "none", "runbook": "INFO_INHIBITOR"}
    assert 'ALERTS{severity="info"}' in found["InfoInhibitor"]["expr"]


def test_every_alert_carries_severity_sla_summary_description_and_runbook():
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in ("critical", "warning", "info", "none"), name
        annotations = rule["annotations"]
        for key in ("summary", "description", "sla", "runbook_url"):
            assert annotations.get(key), f"{name} lacks {key}"


def test_every_alert_labels_its_runbook_for_the_alert_log():
    """ALERTS series carry labels, not annotations: the dashboard's alert log links `runbook`."""
    for name, rule in alerts().items():
        assert rule["annotations"]["runbook_url"].endswith(f"/{rule['labels']['runbook']}.md"), name


def test_every_alert_names_its_object_or_value():
    for name, rule in alerts().items():
        if name in ("Watchdog", "InfoInhibitor"):
            continue
        text = rule["annotations"]["summary"] + rule["annotations"]["description"]
        # ExporterDown's object is its static `job` label (absent() has no labels to template).
        static = [str(v) for k, v in rule["labels"].items() if k not in ("severity", "runbook")]
        named = "{{ $labels." in text or "{{ $value" in text or any(v in text for v in static)
        assert named, f"{name} names neither its object nor its value"


def test_runbooks_and_alerts_link_both_ways():
    from components.observability.grafana import f1_drift_rule

    grafana_rules = [f1_drift_rule("https://runbooks.invalid")]
    linked = {r["annotations"]["runbook_url"].rsplit("/", 1)[1] for r in [*alerts().values(), *grafana_rules]}
    present = {p.name for p in RUNBOOKS.glob("*.md")} - {"README.md"}
    assert linked - present == set(), f"alerts link to missing runbooks: {linked - present}"
    assert present - linked == set(), f"runbooks no alert links: {present - linked}"


SPEC_RUNBOOKS = [
    "NODE_DOWN",
    "OOM",
    "DISK_FULL",
    "AUTOSCALER_STUCK",
    "CPU_SATURATED",
    "SCHEDULER_DOWN",
    "MODEL_DRIFT",
    "CERT_EXPIRY",
    "DB_SATURATED",
    "HTTP_ERRORS",
]


@pytest.mark.parametrize("path", sorted(set(RUNBOOKS.glob("*.md")) - {RUNBOOKS / "README.md"}), ids=lambda p: p.stem)
def test_runbooks_follow_the_spec_template(path):
    text = path.read_text()
    assert text.startswith(f"# RUNBOOK: {path.stem}\n")
    for heading in ("## Detection", "## Diagnosis (first 3 checks)", "## Resolution", "## Escalation"):
        assert heading in text, (path.name, heading)
    diagnosis = text.split("## Diagnosis (first 3 checks)")[1].split("## Resolution")[0]
    checks = re.findall(r"^\d\. ", diagnosis, re.M)
    assert len(checks) >= 3, path.name
    assert diagnosis.count("```") >= 6, f"{path.name}: each of the 3 checks needs a runnable command"
    assert "Grafana panel" in text, path.name
    assert "15 min" in text.split("## Escalation")[1], path.name


def test_the_spec_runbooks_all_exist():
    assert {p.stem for p in RUNBOOKS.glob("*.md")} >= set(SPEC_RUNBOOKS)


PROMQL_WORDS = {
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "rate",
    "increase",
    "by",
    "without",
    "on",
    "ignoring",
    "and",
    "or",
    "unless",
    "offset",
    "vector",
    "time",
    "histogram_quantile",
    "topk",
    "bottomk",
    "abs",
    "absent",
    "changes",
    "max_over_time",
    "min_over_time",
    "avg_over_time",
    "group_left",
    "group_right",
    "bool",
    "clamp_min",
    "clamp_max",
    "label_replace",
    "timestamp",
    "humanize",
    "deriv",
    "predict_linear",
    "irate",
    "delta",
}
SYNTHETIC = {"up", "ALERTS", "ALERTS_FOR_STATE"}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b\d+(ms|[smhdwy])\b", "", expr)
    tokens = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return {t for t in tokens if t not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", t)}


def reference_metrics(reference: Path, exporter: str = "*") -> set[str]:
    """Metric names of ../shared/reference/metrics/<exporter>.txt (every exporter by default)."""
    names: set[str] = set()
    for path in (reference / "metrics").glob(f"{exporter}.txt"):
        for line in path.read_text().splitlines():
            if line and not line.startswith("#"):
                columns = line.split("\t")
                names.add(columns[0].strip())
                # A histogram is listed by its family name; scraped, it is _bucket, _sum and _count
                # (traefik.txt's own note).
                if len(columns) > 1 and columns[1].strip() == "histogram":
                    names.update(columns[0].strip() + suffix for suffix in ("_bucket", "_sum", "_count"))
                # The collector's own telemetry is documented in OTel form; scraped, a monotonic
                # Sum gets the _total suffix (the file's own note).
                if path.name == "otelcol.txt" and len(columns) > 3 and columns[1] == "Sum" and columns[3] == "true":
                    names.add(columns[0].strip() + "_total")
    return names


def test_every_metric_in_a_rule_exists_in_the_reference(reference, tmp_path):
    known = reference_metrics(reference) | SYNTHETIC | {r["record"] for r in all_rules() if "record" in r}
    known |= selfcheck_metrics(tmp_path)
    for rule in all_rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown metric(s) {unknown}"


def test_metric_name_extraction_catches_an_invented_name(reference):
    known = reference_metrics(reference)
    assert metric_names('sum by (pod) (rate(cpu_usage{pod=~"x.*"}[5m])) > 0') - known == {"cpu_usage"}


# ---------------------------------------------------------------- real label shapes

# A test may cover several alerts: "A/fires: ...; B/fires: ...".
SCENARIO = re.compile(r"(?:^|; )(?P<alert>\w+)/(?P<kinds>[a-z+]+): ")
# Every alert that reaches someone (severity other than none) needs every scenario kind.
SCENARIO_ALERTS = sorted(name for name, rule in alerts().items() if rule["labels"]["severity"] != "none")


def rule_test_documents() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((RULES / "tests").glob("*.test.yaml"))]


@pytest.mark.parametrize("name", SCENARIO_ALERTS)
def test_every_alert_has_its_scenarios(name):
    """The spec's firing scenario, a healthy one, a blip shorter than `for` and the series
    disappearing, each a promtool test named "<Alert>/<kinds>: ..."."""
    kinds: set[str] = set()
    for doc in rule_test_documents():
        for test in doc["tests"]:
            for match in SCENARIO.finditer(test["name"]):
                if match["alert"] == name:
                    kinds |= set(match["kinds"].split("+"))
    required = {"fires", "healthy", "disappears"} | ({"blip"} if alerts()[name].get("for") else set())
    assert required <= kinds, f"{name}: no {sorted(required - kinds)} scenario"


def test_every_input_series_says_where_it_is_scraped():
    """Labels after scraping come from the rendered ServiceMonitors, never from the test's
    author: only ALERTS and the kubelet (whose Service the operator creates at run time, so the
    render has none) are written as stored."""
    for doc in rule_test_documents():
        for test in doc["tests"]:
            for series in test.get("input_series") or []:
                name, labels = parse_series(series["series"])
                if name == "ALERTS" or labels.get("job") == "kubelet":
                    continue
                assert "__scrape__" in labels, f"{test['name']}: {series['series']} does not say where it is scraped"


def test_every_job_a_rule_names_is_a_job_the_render_scrapes(scrape_model):
    """A `job="..."` matcher, a `source` annotation or an ExporterDown `job` that names no
    scrape of the render would silently match nothing."""
    produced = {scrape_model.job(s) for s in [*scrape_model.endpoints, *scrape_model.static_jobs]} | {"kubelet"}
    for rule in all_rules():
        matchers = re.findall(r'job=~?"([^"]+)"', rule["expr"])
        named = {job for matcher in matchers for job in matcher.split("|")}
        named |= {rule.get("annotations", {}).get("source"), rule.get("labels", {}).get("job")} - {None}
        assert named <= produced, f"{rule.get('alert') or rule.get('record')}: no scrape produces {named - produced}"


def test_the_exporters_that_describe_other_objects_keep_their_labels(scrape_model):
    """Traefik's `service` (the backend) and cert-manager's `namespace` (the certificate's)
    survive the scrape; kube-state-metrics' too (the chart's default)."""
    traefik = scrape_model.scraped(
        "traefik_service_requests_total", {"__scrape__": "traefik", "service": "trading-api-8080@kubernetes"}
    )
    assert (
        traefik is not None
        and traefik["service"] == "trading-api-8080@kubernetes"
        and "exported_service" not in traefik
    )
    cert = scrape_model.scraped(
        "certmanager_certificate_expiration_timestamp_seconds", {"__scrape__": "cert-manager", "namespace": "trading"}
    )
    assert cert is not None and cert["namespace"] == "trading"
    ksm = scrape_model.scraped(
        "kube_pod_info",
        {"__scrape__": "kube-prometheus-stack-kube-state-metrics", "namespace": "ml", "pod": "finetune-abc"},
    )
    assert ksm is not None and (ksm["namespace"], ksm["pod"]) == ("ml", "finetune-abc")


def test_the_scrape_model_renames_labels_a_target_does_not_honour(scrape_model):
    """The model can fail: with the charts' default honorLabels false, Traefik's `service` is
    stored as `exported_service` and `service` names Traefik's own Service."""
    default = copy.copy(scrape_model)
    default.endpoints = {**scrape_model.endpoints}
    default.endpoints["traefik"] = dataclasses.replace(scrape_model.endpoints["traefik"], honor_labels=False)
    stored = default.scraped(
        "traefik_service_requests_total", {"__scrape__": "traefik", "service": "trading-api-8080@kubernetes"}
    )
    assert stored is not None
    assert (stored["service"], stored["exported_service"]) == ("traefik", "trading-api-8080@kubernetes")


def test_no_two_writers_share_an_alert_name_or_a_recorded_series(deployed):
    """Ours and the chart's default rules, as deployed: an alert name belongs to one
    PrometheusRule, a recorded series (name and static labels) to one PrometheusRule."""
    writers: dict[str, set[str]] = {}
    records: dict[tuple, set[str]] = {}
    for _, obj in deployed["prod"]:
        if obj["kind"] != "PrometheusRule":
            continue
        for group in obj["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    writers.setdefault(rule["alert"], set()).add(obj["metadata"]["name"])
                else:
                    key = (rule["record"], tuple(sorted((rule.get("labels") or {}).items())))
                    records.setdefault(key, set()).add(obj["metadata"]["name"])
    shared = {name: w for name, w in writers.items() if len(w) > 1}
    assert not shared, f"alert names written by two PrometheusRules: {shared}"
    # One PrometheusRule may split a series by selector (the chart's apiserver rules do).
    twice = {key: w for key, w in records.items() if len(w) > 1}
    assert not twice, f"recorded by two PrometheusRules: {twice}"
    assert {"Watchdog", "PodCrashLooping", "TargetDown", "KubeNodeNotReady"} <= set(writers)
