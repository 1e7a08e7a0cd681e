"""A live fault rehearsal: the whole alerting path with real parts, from a fault to a page.

    venv/bin/python -m bench.rehearsal        # renders prod, then about 10 minutes live

Real Debian Prometheus (the stack's rendered rule files, 30 s scrape and evaluation), real
Alertmanager (the rendered configuration, timers as deployed, destinations pointed at a local
PagerDuty Events API v2 / Slack sink), real node-exporter for the three critical-path hosts
and a cluster node, real PostgreSQL with postgres-exporter, the real blackbox exporter probing
a local HTTPS server; stand-ins with the real series for kube-state-metrics, kubelet/cAdvisor,
Traefik, the Airflow statsd exporter, cert-manager and the telemetry pipeline
(bench/rehearsal_exporters.py).  The scrape configuration is the rendered one's: job names,
target labels, honor_labels, metric relabelings (bench/rehearsal_parts.py).

Every fault is injected at the same moment; each recovers as soon as its alerts have been
delivered.  The table gives, per alert: onset (when the spec's condition first holds, seconds
after the faults), first page (PagerDuty for a critical, Slack for a warning), time to page
minus `for`, and when the recovery resolved it in Alertmanager and PagerDuty.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench import rehearsal_exporters as stand_ins
from bench import rehearsal_parts as parts
from bench.incident_sink import Sink, pointed_at, serve
from bench.rehearsal_faults import Fault, Outcome, faults_of, table
from components.config import duration_seconds
from offline import manifests
from offline.engine import RenderResult
from offline.scrape_model import ScrapeModel

HOST_ROLES = ("market-data", "strategy", "order-management")  # the prod static job's target order
DEADLINE_S = 660


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _rule_for(rule_files: list[Path]) -> dict[str, int]:
    found = {}
    for path in rule_files:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[rule["alert"]] = round(duration_seconds(str(rule.get("for", "0s"))))
    return found


def run(result: RenderResult, build: Path, deadline_s: float = DEADLINE_S) -> Outcome:
    """The rehearsal on one render (``build``: what offline.render.write wrote for it)."""
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="rehearsal-"))
    rule_files = sorted((build / "rules").glob("*.yaml"))
    for_s = _rule_for(rule_files)
    objects = [(r.name, o) for r in manifests.releases(result) for o in r.objects]
    model = ScrapeModel(objects + [("pulumi", o) for o in manifests.declared_objects(result)])
    sink = Sink()
    sink_server = serve(sink)
    hook = f"http://127.0.0.1:{sink_server.server_address[1]}"
    cluster = stand_ins.Cluster.healthy()
    started: list = []
    try:
        exporters = {scrape: stand_ins.Exporter(cluster, paths) for scrape, paths in stand_ins.STAND_INS.items()}
        started += exporters.values()
        textfiles = {role: work / f"textfile-{role}" for role in HOST_ROLES}
        selfcheck = _selfcheck_textfile()
        for directory in textfiles.values():
            directory.mkdir()
            (directory / "trading_selfcheck.prom").write_text(selfcheck)
        hosts = {role: parts.node_exporter(work, f"node-exporter-{role}", textfiles[role]) for role in HOST_ROLES}
        node = parts.node_exporter(work, "node-exporter-cluster", work / "textfile-cluster")
        started += [*hosts.values(), node]
        postgres = parts.Postgres(work)
        started.append(postgres)
        site = parts.HttpsSite(work)
        started.append(site)
        chart_config = next(o for _, o in objects if o["kind"] == "ConfigMap" and "blackbox.yaml" in o.get("data", {}))
        probe = parts.blackbox(work, yaml.safe_load(chart_config["data"]["blackbox.yaml"]), site.ca)
        started.append(probe)
        am = parts.alertmanager(work, pointed_at(yaml.safe_load((build / "alertmanager.yaml").read_text()), hook))
        started.append(am)
        am_url = am.ready.removesuffix("/-/ready")

        blackbox_scrape = next(s for s in model.endpoints if "/" not in s and s.startswith("blackbox-exporter"))
        model.endpoints[blackbox_scrape].params["target"] = [site.url]  # the local site stands in for it
        addresses = {
            **{s: e.address for s, e in exporters.items() if s != "kubelet"},
            "kubelet-metrics": exporters["kubelet"].address,
            "kubelet-cadvisor": exporters["kubelet"].address,
            "kube-prometheus-stack-prometheus-node-exporter": node.ready.split("/")[2],
            "postgres-exporter-prometheus-postgres-exporter": postgres.address,
            blackbox_scrape: probe.ready.split("/")[2],
        }
        static = {"critical-path-node-exporter": [hosts[role].ready.split("/")[2] for role in HOST_ROLES]}
        prometheus = parts.prometheus(work, rule_files, parts.scrape_jobs(model, addresses, static), am_url[7:])
        started.append(prometheus)
        prom_url = prometheus.ready.removesuffix("/-/ready")

        faults = faults_of(cluster, hosts, postgres, site, for_s)
        _wait_for_baseline(prom_url)
        t0 = time.monotonic()
        for fault in faults:
            fault.inject()
        outcome = _watch(faults, sink, am_url, t0, deadline_s, textfiles, selfcheck)
        outcome.started_s = t0 - began
        outcome.live_s = time.monotonic() - t0
        return outcome
    finally:
        for part in reversed(started):
            part.stop()
        sink_server.shutdown()
        sink_server.server_close()
        shutil.rmtree(work, ignore_errors=True)


def _selfcheck_textfile() -> str:
    """The self-check's textfile for a host running with its declared tuning: the series the
    real script writes, every check passing.  This machine itself has no cpufreq governor and
    THP on madvise, so the script's own verdict on it would be a real failure of the rehearsal
    machine, not of the rehearsed host."""
    with tempfile.TemporaryDirectory() as scratch:
        return parts.host_selfcheck_textfile(Path(scratch)).replace("} 0\n", "} 1\n")


def _wait_for_baseline(prom_url: str) -> None:
    """Until every target has been scraped twice and every rule group evaluated since: a
    healthy platform, with no alert pending from the start (rates and heartbeats need two
    samples).  The groups evaluate every 30 s at their own offsets, so the wait after the
    second scrape is up to one interval, not a fixed one."""
    deadline = time.monotonic() + 150
    two_samples: float | None = None
    while time.monotonic() < deadline:
        if two_samples is None:
            targets = _get(f"{prom_url}/api/v1/targets")["data"]["activeTargets"]  # type: ignore[index]
            up = targets and all(t["health"] == "up" for t in targets)
            query = "min(count_over_time(up[2m]))"
            samples = _get(f"{prom_url}/api/v1/query?query={urllib.parse.quote(query)}")["data"]["result"]  # type: ignore[index]
            if up and samples and float(samples[0]["value"][1]) >= 2:
                two_samples = time.time()
        else:
            groups = _get(f"{prom_url}/api/v1/rules")["data"]["groups"]  # type: ignore[index]
            if all(_evaluated_after(g["lastEvaluation"], two_samples) for g in groups):
                return
        time.sleep(1)
    raise RuntimeError(f"no healthy baseline in 150 s: {[t['scrapeUrl'] for t in targets if t['health'] != 'up']}")


def _evaluated_after(rfc3339: str, moment: float) -> bool:
    """Prometheus writes lastEvaluation with nanoseconds (``2026-11-24T10:00:00.123456789Z``)
    or, before a group's first evaluation, ``0001-01-01T00:00:00Z``."""
    whole, _, fraction = rfc3339.rstrip("Z").partition(".")
    evaluated = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return evaluated + float(f"0.{fraction or 0}") > moment


def _watch(
    faults: list[Fault], sink: Sink, am_url: str, t0: float, deadline_s: float, textfiles: dict, selfcheck: str
) -> Outcome:
    outcome = Outcome(faults)
    expected = {a.alert for a in outcome.alerts}
    touched = t0
    while time.monotonic() - t0 < deadline_s:
        now = time.monotonic()
        if now - touched > 60:  # the hosts' self-check timer rewrites its textfile every minute
            for directory in textfiles.values():
                (directory / "trading_selfcheck.prom").write_text(selfcheck)
            touched = now
        for fault in faults:
            if fault.tick is not None and fault.recovered_at is None:
                fault.tick(now - t0)
        with sink.lock:
            _record_deliveries(outcome, sink, t0, expected)
        active = {a["labels"]["alertname"] for a in _get(f"{am_url}/api/v2/alerts?active=true&inhibited=true")}  # type: ignore[attr-defined]
        for fault in faults:
            delivered = all(a.first_page is not None for a in fault.alerts)
            if delivered and fault.recovered_at is None:
                fault.recover()
                fault.recovered_at = time.monotonic() - t0
            for a in fault.alerts:
                if fault.recovered_at is not None and a.resolved is None and a.alert not in active:
                    a.resolved = time.monotonic() - t0
        criticals_closed = all(a.pagerduty_resolved is not None for a in outcome.alerts if a.severity == "critical")
        if all(a.resolved is not None for a in outcome.alerts) and criticals_closed:
            break
        time.sleep(1)
    return outcome


def _record_deliveries(outcome: Outcome, sink: Sink, t0: float, expected: set[str]) -> None:
    outcome.heartbeats = len(sink.events("/heartbeat"))
    outcome.refused = len(sink.refused)
    for received in sink.events("/slack"):
        for attachment in received.body.get("attachments", []):
            title = attachment.get("title", "")
            name = title.rsplit(" ", 1)[-1]
            if name not in expected:
                outcome.unexpected.add(f"{name} (Slack)")
            for a in outcome.alerts:
                if a.alert == name and title.startswith("[FIRING") and a.slack is None:
                    a.slack = received.at - t0
    for received in sink.events("/v2/enqueue"):
        labels = str(received.body.get("payload", {}).get("custom_details", {}).get("labels", ""))
        name = next((p.split("=", 1)[1] for p in labels.split() if p.startswith("alertname=")), "")
        if name not in expected:
            outcome.unexpected.add(f"{name} (PagerDuty)")
        for a in outcome.alerts:
            if a.alert != name:
                continue
            if received.body["event_action"] == "trigger" and a.pagerduty is None:
                a.pagerduty = received.at - t0
            if received.body["event_action"] == "resolve" and a.pagerduty_resolved is None:
                a.pagerduty_resolved = received.at - t0


def main() -> int:
    from offline import engine, render

    started = time.monotonic()
    result = engine.run("prod")
    with tempfile.TemporaryDirectory(prefix="rehearsal-build-") as scratch:
        build = Path(scratch) / "prod"
        render.write(result, build)
        rendered_s = time.monotonic() - started
        outcome = run(result, build)
    print(table(outcome))
    print(f"render {rendered_s:.0f} s; whole rehearsal {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
