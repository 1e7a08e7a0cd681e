"""A real Prometheus on 127.0.0.1 serving the synthetic cluster (bench/synthetic_cluster.py),
with the recording rules backfilled level by level and the stack's rule files loaded."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from bench.fine_tuning_scenario import HOURS, STEP
from bench.synthetic_cluster import write_openmetrics


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server the caller starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str:
    """A Debian tool the benchmarks run (scripts/setup.sh installs them)."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run `bash scripts/setup.sh` or `bash .ci/run`")
    return path


class Process:
    """A server started here and stopped by its PID; ``ready`` is polled until it answers."""

    def __init__(self, name: str, argv: list[str], ready: str, workdir: Path, env: dict | None = None):
        self.name, self.argv, self.ready, self.workdir, self.env = name, argv, ready, workdir, env
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = (self.workdir / f"{self.name}.log").open("a")
        self.process = subprocess.Popen(self.argv, stdout=log, stderr=log, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {(self.workdir / f'{self.name}.log').read_text()[-1500:]}")
            try:
                with urllib.request.urlopen(self.ready, timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {self.ready} in 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def chart_recording_rules(objects: list[dict], directory: Path) -> Path:
    """The chart's recording groups the dashboard reads (node CPU and memory utilisation), taken
    from kube-prometheus-stack's PrometheusRules as Helm renders them, as a rule file."""
    from components.observability.monitoring import CHART_RECORDING_GROUPS
    from offline.manifests import prometheus_rule_groups

    path = directory / "kube-prometheus-stack.yaml"
    path.write_text(yaml.safe_dump(prometheus_rule_groups(objects, CHART_RECORDING_GROUPS)))
    return path


def recording_levels(rule_files: list[Path]) -> list[list[dict]]:
    """Recording rules grouped so that each level reads only raw series and lower levels."""
    rules = [
        r for f in rule_files for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"] if "record" in r
    ]
    names = {r["record"] for r in rules}
    level: dict[str, int] = {}
    while len(level) < len(rules):
        progressed = False
        for r in rules:
            if r["record"] in level:
                continue
            deps = {n for n in names if re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", r["expr"])} - {r["record"]}
            if deps <= set(level):
                level[r["record"]] = 1 + max((level[d] for d in deps), default=-1)
                progressed = True
        if not progressed:
            raise ValueError("recording rules depend on each other in a cycle")
    return [[r for r in rules if level[r["record"]] == i] for i in range(max(level.values()) + 1)]


class SyntheticPrometheus:
    """Generate, load, backfill and serve the synthetic cluster.  Use as a context manager."""

    def __init__(
        self,
        rule_files: list[Path],
        workdir: Path | None = None,
        hours: int = HOURS,
        backfill: bool = True,
        size: float = 0.0,
    ):
        self.rule_files = rule_files
        self.size = size
        self.hours = hours
        self.backfill = backfill
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="synthetic-prometheus-"))
        self.data = self.workdir / "data"
        self.server: Process | None = None
        self.url = ""
        self.figures: dict = {}

    def __enter__(self) -> SyntheticPrometheus:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        promtool = tool("promtool")
        end = int(time.time())
        end -= end % STEP
        openmetrics = self.workdir / "openmetrics"
        t0 = time.perf_counter()
        self.figures = write_openmetrics(openmetrics, end, self.hours, size=self.size)
        self.figures["generate_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pending = list(self.figures.pop("files"))
        running: list[subprocess.Popen] = []
        while pending or running:  # one promtool per core
            while pending and len(running) < (os.cpu_count() or 1):
                block = pending.pop(0)
                running.append(
                    subprocess.Popen(
                        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(block), str(self.data)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                )
            done = running.pop(0)
            _, err = done.communicate()
            if done.returncode:
                raise RuntimeError(f"promtool could not import the synthetic cluster: {err.decode()[-2000:]}")
        self.figures["load_s"] = time.perf_counter() - t0
        shutil.rmtree(openmetrics)
        self._serve()
        if self.backfill:
            t0 = time.perf_counter()
            for i, rules in enumerate(recording_levels(self.rule_files)):
                level_file = self.workdir / f"level-{i}.yaml"
                level_file.write_text(
                    yaml.safe_dump({"groups": [{"name": f"backfill-{i}", "interval": "30s", "rules": rules}]})
                )
                out = self.workdir / f"blocks-{i}"
                subprocess.run(
                    [
                        promtool,
                        "tsdb",
                        "create-blocks-from",
                        "rules",
                        f"--start={self.figures['start']}",
                        f"--end={self.figures['end']}",
                        f"--url={self.url}",
                        f"--output-dir={out}",
                        "--quiet",
                        str(level_file),
                    ],
                    check=True,
                    capture_output=True,
                )
                self._stop_server()
                for block in out.iterdir():
                    if block.is_dir():
                        shutil.move(str(block), self.data / block.name)
                self._serve()
            self.figures["backfill_s"] = time.perf_counter() - t0

    def _serve(self) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    # Alert rules every 5 s, so ALERTS exist soon after start (recording groups keep their 30 s).
                    "global": {"scrape_interval": "30s", "evaluation_interval": "5s"},
                    "rule_files": [str(p) for p in self.rule_files],
                }
            )
        )
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        argv = [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
            "--log.level=warn",
        ]
        self.server = Process("prometheus", argv, f"{self.url}/-/ready", self.workdir)

    def _stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.server = None

    def restart(self, drop_caches: bool = False) -> bool:
        """A new server process on the same data: nothing of the last one's memory.  With
        ``drop_caches``, the kernel's page cache is dropped too where this user may (root):
        the blocks are read from disk again.  Returns whether it was dropped."""
        self._stop_server()
        dropped = False
        if drop_caches:
            subprocess.run(["sync"], check=True)
            try:
                Path("/proc/sys/vm/drop_caches").write_text("3\n")
                dropped = True
            except OSError:
                pass
        self._serve()
        return dropped

    def stop(self) -> None:
        self._stop_server()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def query(self, path: str, **params: str) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read())

    def wait_for_rule_evaluation(self, timeout: float = 120) -> None:
        """Until every rule group has been evaluated since the server started (ALERTS exist)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            groups = self.query("rules")["data"]["groups"]
            # A group not evaluated yet reports the zero time, 0001-01-01.
            evaluated = groups and all(not g["lastEvaluation"].startswith("0001") for g in groups)
            if evaluated and self.query("query", query='ALERTS{alertname="Watchdog"}')["data"]["result"]:
                time.sleep(1)
                return
            time.sleep(0.5)
        raise RuntimeError("Prometheus evaluated no rule in time")
