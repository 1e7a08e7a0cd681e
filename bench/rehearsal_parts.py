"""The real parts of the live rehearsal, each on 127.0.0.1 and a free port, stopped by PID:
Debian's Prometheus, Alertmanager, node-exporter, PostgreSQL with postgres-exporter, and the
blackbox exporter probing a local HTTPS server; and the scrape configuration, derived from
the rendered ServiceMonitors and additional scrape configs (offline/scrape_model.py).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from bench.synthetic_prometheus import Process, free_port, tool
from offline.scrape_model import ScrapeModel, target_labels

PROMETHEUS_EXTERNAL_LABELS = {"prometheus": "monitoring/kube-prometheus-stack-prometheus"}
# The kubelet's Service is made by the operator at run time, so the render has none: its target
# labels as kube-prometheus-stack's kubelet ServiceMonitor stores them (honorLabels true,
# metrics_path from the endpoint's relabeling), as the promtool tests write them.
KUBELET_TARGET = {
    "service": "kube-prometheus-stack-kubelet",
    "endpoint": "https-metrics",
    "node": "scw-trading-prod-permanent-4f1c9a2e",
    "instance": "172.16.16.20:10250",
}


def _snake(relabelings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operator's relabeling fields (camelCase) as Prometheus' scrape configuration spells them."""
    names = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [{names.get(k, k): (v.lower() if k == "action" else v) for k, v in r.items()} for r in relabelings]


def scrape_jobs(model: ScrapeModel, addresses: dict[str, str], static: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One job per scrape the rehearsal serves: the job label, target labels, honor_labels,
    path, params and metric relabelings the rendered ServiceMonitor gives Prometheus."""
    jobs: list[dict[str, Any]] = []
    for scrape, address in addresses.items():
        if scrape.startswith("kubelet"):
            path = "/metrics/cadvisor" if scrape == "kubelet-cadvisor" else "/metrics"
            labels = {**KUBELET_TARGET, "job": "kubelet", "metrics_path": path}
            jobs.append(
                {
                    "job_name": scrape,
                    "honor_labels": True,
                    "metrics_path": path,
                    "static_configs": [{"targets": [address], "labels": labels}],
                }
            )
            continue
        endpoint = model.endpoints[scrape]
        job: dict[str, Any] = {
            "job_name": scrape.replace("/", "_"),
            "honor_labels": endpoint.honor_labels,
            "static_configs": [{"targets": [address], "labels": target_labels(endpoint)}],
        }
        job["metrics_path"] = endpoint.path
        if endpoint.params:
            job["params"] = endpoint.params
        if endpoint.metric_relabelings:
            job["metric_relabel_configs"] = _snake(endpoint.metric_relabelings)
        jobs.append(job)
    for name, targets in static.items():
        job = yaml.safe_load(yaml.safe_dump(model.static_jobs[name]))
        for group, target in zip(job["static_configs"], targets, strict=True):
            group["targets"] = [target]
        jobs.append(job)
    return jobs


def prometheus(workdir: Path, rule_files: list[Path], jobs: list[dict], alertmanager: str) -> Process:
    """Debian's Prometheus with the stack's 30 s scrape and evaluation intervals."""
    config = {
        "global": {
            "scrape_interval": "30s",
            "evaluation_interval": "30s",
            "external_labels": PROMETHEUS_EXTERNAL_LABELS,
        },
        "rule_files": [str(p) for p in rule_files],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": jobs,
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    return Process(
        "prometheus",
        [
            tool("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        f"http://127.0.0.1:{port}/-/ready",
        workdir,
    )


def alertmanager(workdir: Path, config: dict) -> Process:
    """The rendered configuration, destinations pointed at the sink, timers as deployed."""
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    return Process(
        "alertmanager",
        [
            tool("prometheus-alertmanager"),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        f"http://127.0.0.1:{port}/-/ready",
        workdir,
    )


def node_exporter(workdir: Path, name: str, textfiles: Path) -> Process:
    """The hosts' node-exporter flags (host_network.node_exporter_defaults) but timex: this
    machine's clock is not disciplined by chrony (node_timex_sync_status 0), which would page
    ClockNotSynchronised for a fault of the rehearsal machine, not of the rehearsed host."""
    port = free_port()
    return Process(
        name,
        [
            tool("prometheus-node-exporter"),
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.processes",
            f"--collector.textfile.directory={textfiles}",
            "--no-collector.timex",
        ],
        f"http://127.0.0.1:{port}/metrics",
        workdir,
    )


def host_selfcheck_textfile(scratch: Path) -> str:
    """What the hosts' own self-check (components/scaleway/host_selfcheck.py) writes when run
    on this machine's /proc and /sys with a synchronised chronyc answer."""
    expected = {
        "kernel_arguments": [], "isolated": "", "housekeeping": "0", "online_cpus": 1, "hugepages_1g": 0,
        "thp": "never", "clock_bound_seconds": 0.001,
    }  # fmt: skip
    (scratch / "expected.json").write_text(json.dumps(expected))
    (scratch / "chronyc.csv").write_text(
        "C0A80101,192.168.1.1,3,1503476410.123456789,0.000000035,-0.000009484,0.000077128,"
        "-1.543,-0.000,0.006,0.000387553,0.000166123,64.1,Normal\n"
    )
    script = Path(__file__).resolve().parents[1] / "components" / "scaleway" / "host_selfcheck.py"
    args = ["--expected", str(scratch / "expected.json"), "--chronyc-output", str(scratch / "chronyc.csv")]
    subprocess.run([sys.executable, str(script), *args, "--textfile", str(scratch / "out.prom")], capture_output=True)
    return (scratch / "out.prom").read_text()


class Postgres:
    """A real PostgreSQL cluster (max_connections 20) on a private socket, and postgres-exporter."""

    MAX_CONNECTIONS = 20

    def __init__(self, workdir: Path):
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent
        self.base = Path(tempfile.mkdtemp(prefix="rehearsal-pg-"))
        self.socket, data = self.base / "sock", self.base / "data"
        self.socket.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = pwd.getpwnam("postgres")
            for path in (self.base, self.socket):
                os.chown(path, user.pw_uid, user.pw_gid)
            self.base.chmod(0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.pg_ctl = [*self.as_user, str(bindir / "pg_ctl"), "-D", str(data)]
        subprocess.run(
            [*self.as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.socket}' "
            f"-c max_connections={self.MAX_CONNECTIONS}"
        )
        subprocess.run(
            [*self.pg_ctl, "-w", "-l", str(self.base / "log"), "-o", options, "start"], check=True, capture_output=True
        )
        port = free_port()
        env = {**os.environ, "DATA_SOURCE_NAME": f"postgresql://postgres@/postgres?host={self.socket}&sslmode=disable"}
        self.exporter = Process(
            "postgres-exporter",
            [tool("prometheus-postgres-exporter"), f"--web.listen-address=127.0.0.1:{port}"],
            f"http://127.0.0.1:{port}/metrics",
            workdir,
            env=env,
        )
        self.address = f"127.0.0.1:{port}"
        self.sessions: list[subprocess.Popen] = []

    def open_sessions(self, count: int) -> None:
        """Clients that connect and hold their connection, as a leaking pool does."""
        for _ in range(count):
            self.sessions.append(
                subprocess.Popen(
                    ["psql", "-h", str(self.socket), "-U", "postgres", "-d", "postgres", "-c", "SELECT pg_sleep(3600)"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def close_sessions(self) -> None:
        """The leaking client stopped and its stuck sessions terminated (runbook DB_SATURATED):
        a backend inside pg_sleep does not notice its client is gone."""
        for session in self.sessions:
            session.terminate()
            session.wait()
        self.sessions.clear()
        subprocess.run(
            ["psql", "-h", str(self.socket), "-U", "postgres", "-d", "postgres", "-c",
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"],
            capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        self.close_sessions()
        self.exporter.stop()
        subprocess.run([*self.pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


class HttpsSite:
    """A local HTTPS server whose certificate (signed by a CA made here) can be swapped: the
    certificate close to expiry, then the renewed one."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "tls"
        self.dir.mkdir()
        openssl = tool("openssl")
        self._run(
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "3650",
            "-subj",
            "/CN=rehearsal CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        )
        self.ca = self.dir / "ca.pem"
        self.context = self._context(days=80)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"pong")

            def log_message(self, *args: Any) -> None:
                pass

        site = self

        class Server(ThreadingHTTPServer):
            def get_request(self) -> Any:
                sock, address = self.socket.accept()
                return site.context.wrap_socket(sock, server_side=True), address

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"https://localhost:{self.server.server_address[1]}/api/v3/ping"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _run(self, *argv: str) -> None:
        subprocess.run(argv, cwd=self.dir, check=True, capture_output=True)

    def _context(self, days: int) -> ssl.SSLContext:
        openssl = tool("openssl")
        name = f"site-{days}d"
        self._run(
            openssl,
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
        )
        (self.dir / "san.ext").write_text("subjectAltName=DNS:localhost\n")
        self._run(
            openssl,
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            str(days),
            "-extfile",
            "san.ext",
            "-out",
            f"{name}.pem",
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.dir / f"{name}.pem", self.dir / f"{name}.key")
        return context

    def serve_certificate(self, days: int) -> None:
        self.context = self._context(days)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def blackbox(workdir: Path, modules: dict, ca: Path) -> Process:
    """The chart's rendered modules, trusting the local CA (the cluster's trusts the public ones)."""
    modules = yaml.safe_load(yaml.safe_dump(modules))
    for module in modules["modules"].values():
        module.setdefault("http", {}).setdefault("tls_config", {})["ca_file"] = str(ca)
    (workdir / "blackbox.yml").write_text(yaml.safe_dump(modules))
    port = free_port()
    return Process(
        "blackbox-exporter",
        [
            tool("prometheus-blackbox-exporter"),
            f"--config.file={workdir / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        f"http://127.0.0.1:{port}/-/healthy",
        workdir,
    )
