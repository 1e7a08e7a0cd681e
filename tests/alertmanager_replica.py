"""A real Alertmanager (Debian's, on 127.0.0.1) on the configuration the render writes, sending to
the local stand-in for PagerDuty, Slack and the dead man's switch (bench/incident_sink.py).

The live configuration is the rendered prod file with only the destinations pointed at the
sink, and every timer divided by TIME_SCALE, so that a minute of Alertmanager time is 3 seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bench.incident_sink import pointed_at
from bench.synthetic_prometheus import free_port

TIME_SCALE = 20
MINUTE = 60 / TIME_SCALE  # seconds of test time per minute of Alertmanager time


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def _scaled(duration: str) -> str:
    seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", duration))
    return f"{round(seconds * 1000 / TIME_SCALE)}ms"


def _scale_route(route: dict) -> None:
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            route[key] = _scaled(route[key])
    for child in route.get("routes", []):
        _scale_route(child)


def live_config(rendered: Path, hook: str) -> dict:
    """The rendered file with its destinations pointed at the sink and its timers scaled."""
    config = yaml.safe_load(rendered.read_text())
    _scale_route(config["route"])
    return pointed_at(config, hook)


class Alertmanager:
    """One Alertmanager process (a replica), stopped by PID."""

    def __init__(self, config: dict, work: Path):
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            pytest.fail("prometheus-alertmanager is not installed: run `bash .ci/run`")
        work.mkdir(parents=True, exist_ok=True)
        (work / "alertmanager.yaml").write_text(yaml.safe_dump(config))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
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
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("alertmanager did not start")

    def post(self, *alerts: dict[str, str], resolved: bool = False) -> None:
        """What Prometheus sends: firing alerts end a few minutes ahead, resolved ones now."""
        now = datetime.now(UTC)
        body = [
            {
                "labels": labels,
                "annotations": {
                    "summary": f"{labels['alertname']} on {labels.get('node') or labels.get('job', '-')}",
                    "description": "d",
                    "sla": "s",
                    "runbook_url": f"https://runbooks.invalid/{labels['alertname']}.md",
                },
                "startsAt": (now - timedelta(minutes=1)).isoformat(),
                "endsAt": (now if resolved else now + timedelta(hours=1)).isoformat(),
            }
            for labels in alerts
        ]
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=5).read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
