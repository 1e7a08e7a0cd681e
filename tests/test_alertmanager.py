"""The Alertmanager configuration: amtool checks the file the render writes and its routes, and
a real Alertmanager (Debian's, on 127.0.0.1) proves the escalation chain end to end."""

from __future__ import annotations

import copy
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from components.alerting import routing as escalation
from conftest import STACKS, require_tool
from offline import render


@pytest.fixture(scope="module")
def rendered_configs(renders, tmp_path_factory):
    """The alertmanager.yaml that `python -m offline <stack>` writes, per stack."""
    paths = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(f"render-{stack}")
        render.write(renders[stack], out)
        paths[stack] = out / "alertmanager.yaml"
    return paths


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_check_config_accepts_the_rendered_file(rendered_configs, stack):
    amtool = require_tool("amtool")
    run = subprocess.run([amtool, "check-config", str(rendered_configs[stack])], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "7 receivers" in run.stdout and "3 inhibit rules" in run.stdout


ROUTES = [
    (["severity=critical", "alertname=NodeDown"], "slack-critical,sms-primary-on-call,sms-secondary-on-call,pagerduty"),
    (["severity=warning", "alertname=NodeCPUSaturated"], "slack"),
    (["severity=info", "alertname=ComputeScaleUp"], "blackhole"),
    (["severity=none", "alertname=Watchdog"], "heartbeat"),
    (["severity=none", "alertname=InfoInhibitor"], "blackhole"),
    (["severity=page-me-maybe", "alertname=SomethingNew"], "slack"),
    (["alertname=NoSeverityAtAll"], "slack"),
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("labels,receivers", ROUTES, ids=[r[0][0] for r in ROUTES])
def test_amtool_routes(rendered_configs, stack, labels, receivers):
    amtool = require_tool("amtool")
    run = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={rendered_configs[stack]}",
            f"--verify.receivers={receivers}",
            *labels,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == receivers


def test_amtool_verify_fails_on_a_wrong_expectation(rendered_configs):
    amtool = require_tool("amtool")
    run = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={rendered_configs['prod']}",
            "--verify.receivers=slack",
            "severity=critical",
            "alertname=NodeDown",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0


def test_critical_pages_within_one_minute_by_configuration(rendered_configs):
    config = yaml.safe_load(rendered_configs["prod"].read_text())
    [critical] = [r for r in config["route"]["routes"] if r.get("matchers") == ['severity="critical"']]
    seconds = {"s": 1, "m": 60, "h": 3600}
    as_seconds = lambda d: int(d[:-1]) * seconds[d[-1]]  # noqa: E731
    assert as_seconds(critical["group_wait"]) <= 60 and as_seconds(critical["group_interval"]) <= 60
    immediate = [r for r in critical["routes"] if r["receiver"] in ("slack-critical", "sms-primary-on-call")]
    assert all("group_wait" not in r for r in immediate)  # inherit the critical route's 10s


# ---------------------------------------------------------------- a real Alertmanager


class _Capture(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        url = urlparse(self.path)
        self.received.append(
            {"path": url.path, "query": parse_qs(url.query), "at": time.monotonic(), "body": json.loads(body or b"{}")}
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http(method: str, url: str, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


# Time-scaled copy of the escalation: 1s stands for the 10s of group_wait, 6s for 15 min, 12s for 30 min.
SCALE = {
    "10s": "1s",
    "30s": "1s",
    escalation.ESCALATE_TO_SECONDARY_AFTER: "6s",
    escalation.ESCALATE_TO_PAGERDUTY_AFTER: "12s",
}


def _scaled(route: dict) -> dict:
    route = copy.deepcopy(route)
    for key in ("group_wait", "group_interval"):
        if key in route:
            route[key] = SCALE.get(route[key], "1s" if key == "group_interval" else route[key])
    route["routes"] = [_scaled(r) for r in route.get("routes", [])]
    if not route["routes"]:
        del route["routes"]
    return route


@pytest.fixture(scope="module")
def alertmanager(prod, tmp_path_factory):
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("prometheus-alertmanager is not installed: run `bash .ci/run`")
    capture = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    _Capture.received = []
    threading.Thread(target=capture.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{capture.server_address[1]}"
    secrets = escalation.EscalationSecrets(f"{hook}/slack", "0" * 32, f"{hook}/sms", f"{hook}/heartbeat")
    config = escalation.alertmanager_config(prod.config.alerting, secrets)
    config["route"] = _scaled(config["route"])
    for receiver in config["receivers"]:
        for pd in receiver.get("pagerduty_configs", []):
            pd["url"] = f"{hook}/pagerduty"
    work = tmp_path_factory.mktemp("alertmanager")
    (work / "alertmanager.yaml").write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={work / 'alertmanager.yaml'}",
            f"--storage.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"alertmanager did not start: {stderr[:500]}")
        yield url, _Capture.received
    finally:
        process.terminate()
        process.wait(timeout=10)
        capture.shutdown()


def _fire(url: str, *alerts: dict) -> None:
    now = datetime.now(UTC)
    _http(
        "POST",
        f"{url}/api/v2/alerts",
        [
            {
                "labels": a,
                "annotations": {
                    "summary": f"{a['alertname']} test",
                    "description": "d",
                    "sla": "s",
                    "runbook_url": "https://runbooks.invalid/X.md",
                },
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=10)).isoformat(),
            }
            for a in alerts
        ],
    )


def _names(message: dict) -> set[str]:
    body = message["body"]
    if message["path"] == "/slack":
        return {body["attachments"][0]["title"].split()[-1]}
    if message["path"] == "/pagerduty":
        return {body["payload"]["summary"].split()[0]}
    return {a["labels"]["alertname"] for a in body.get("alerts", [])}


def _deliveries(received: list, alertname: str) -> list[dict]:
    return [m for m in received if alertname in _names(m)]


def test_real_alertmanager_runs_the_escalation_chain(alertmanager):
    url, received = alertmanager
    start = time.monotonic()
    _fire(
        url,
        {"alertname": "NodeDown", "severity": "critical"},  # never acknowledged
        {"alertname": "PersistentVolumeFull", "severity": "critical", "namespace": "monitoring"},  # acked
        {"alertname": "AirflowSchedulerDown", "severity": "critical", "component": "airflow-scheduler"},
        {"alertname": "AirflowSchedulerHeartbeatLate", "severity": "warning", "component": "airflow-scheduler"},
        {"alertname": "NodeCPUSaturated", "severity": "warning", "instance": "10.32.0.5:9100"},
        {"alertname": "ComputeScaleUp", "severity": "info", "node": "scw-compute-1"},
        {"alertname": "Watchdog", "severity": "none"},
    )

    # Acknowledge PersistentVolumeFull as soon as its first SMS arrives: a silence.
    deadline = time.monotonic() + 5
    while not _deliveries(received, "PersistentVolumeFull") and time.monotonic() < deadline:
        time.sleep(0.1)
    now = datetime.now(UTC)
    _http(
        "POST",
        f"{url}/api/v2/silences",
        {
            "matchers": [{"name": "alertname", "value": "PersistentVolumeFull", "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "on-call",
            "comment": "ack",
        },
    )
    time.sleep(max(0.0, start + 15 - time.monotonic()))

    node_down = _deliveries(received, "NodeDown")
    by_target: dict[str, float] = {}
    for m in node_down:
        target = m["path"] + ("?to=" + m["query"]["to"][0] if "to" in m["query"] else "")
        by_target.setdefault(target, m["at"] - start)
    primary, secondary = "/sms?to=+33600000001", "/sms?to=+33600000002"
    assert set(by_target) == {"/slack", primary, secondary, "/pagerduty"}, by_target
    assert by_target["/slack"] < 3 and by_target[primary] < 3  # at once (scaled 10s)
    assert 5.5 <= by_target[secondary] < 10  # after "15 min" (6s)
    assert by_target["/pagerduty"] >= 11.5  # after "30 min" (12s)

    acked = {m["path"] + str(m["query"].get("to", "")) for m in _deliveries(received, "PersistentVolumeFull")}
    assert acked == {"/slack", "/sms['+33600000001']"}, acked  # no escalation after the ack

    assert [m["path"] for m in _deliveries(received, "AirflowSchedulerHeartbeatLate")] == []  # inhibited
    assert {m["path"] for m in _deliveries(received, "NodeCPUSaturated")} == {"/slack"}  # warning: Slack only
    assert _deliveries(received, "ComputeScaleUp") == []  # info: nobody
    assert {m["path"] for m in _deliveries(received, "Watchdog")} == {"/heartbeat"}
    slack_text = _deliveries(received, "NodeDown")[0]["body"]
    assert any(m["body"].get("channel") == "#cvntrade-alerts" for m in node_down if m["path"] == "/slack"), slack_text
