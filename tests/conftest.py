"""Shared fixtures: the mock render of every stack, and the reference data beside the repo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from alertmanager_replica import Alertmanager

    from bench.incident_sink import Sink

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offline import engine as offline  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"
STACKS = offline.stack_names()


@pytest.fixture(scope="session")
def renders() -> dict[str, offline.RenderResult]:
    """Every Pulumi.<stack>.yaml run once under mocks."""
    return {stack: offline.run(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def prod(renders) -> offline.RenderResult:
    return renders["prod"]


@pytest.fixture(scope="session")
def dev(renders) -> offline.RenderResult:
    return renders["dev"]


@pytest.fixture(scope="session")
def reference() -> Path:
    """../shared/reference; CI sets REQUIRE_REFERENCE=1 so that its absence fails, not skips."""
    if not REFERENCE.is_dir():
        if os.environ.get("REQUIRE_REFERENCE") == "1":
            pytest.fail(f"reference data not found at {REFERENCE} (REQUIRE_REFERENCE=1)")
        pytest.skip(f"reference data not found at {REFERENCE}: it sits beside the repository in CI")
    return REFERENCE


def host(**changes: object) -> dict:
    """A critical-path host entry of criticalPathHosts, changed.  On EM-A315X-SSD, the offer the
    review found over-committed: 4 cores, 8 threads, 60 GiB as Scaleway's API lists it
    (offline/recorded/)."""
    base: dict = {
        "role": "market-data",
        "offer": "EM-A315X-SSD",
        "osName": "Ubuntu",
        "osVersion": "24.04 LTS (Noble Numbat)",
        "installedOs": "Ubuntu 24.04 LTS (Noble Numbat)",
        "housekeepingCores": 2,
        "hugepages1G": 8,
    }
    base.update(changes)
    return base


def on_call(person: dict | None = None, at: str = "rotation[0]", **changes: object) -> dict:
    """Pulumi.prod.yaml's onCall, with top-level fields changed and/or one person replaced by
    ``person`` merged over them (``at``: ``rotation[i]`` or ``incidentLead``)."""
    import copy

    import yaml as _yaml

    base = copy.deepcopy(_yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["trading-platform:onCall"])
    base.update(changes)
    if person is not None:
        if at == "incidentLead":
            base["incidentLead"] = {**base["incidentLead"], **person}
        else:
            i = int(at[len("rotation[") : -1])
            base["rotation"][i] = {**base["rotation"][i], **person}
    return base


def require_tool(name: str) -> str:
    """Path of a real tool the tests run; its absence is a failure, never a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash .ci/run` or see README 'Tests'")
    return path


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found: run `bash .ci/run` (Debian package postgresql)")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL on a private Unix socket (no TCP), started and stopped by the tests.

    Yields a function that runs SQL through psql and returns the rows as lists of strings."""
    import pwd
    import subprocess
    import tempfile

    bindir = _postgres_bin()
    # Not under pytest's tmp (mode 0700, root's): the postgres user must reach it.
    base = Path(tempfile.mkdtemp(prefix="trading-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        for path in (base, sock):
            os.chown(path, user.pw_uid, user.pw_gid)
        base.chmod(0o755)
        as_user = ["runuser", "-u", "postgres", "--"]
    run = lambda *cmd: subprocess.run([*as_user, *cmd], capture_output=True, text=True, check=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(base / "log"),
        "-o",
        f"-c listen_addresses='' -c unix_socket_directories='{sock}'",
        "start",
    )

    def sql(statement: str, database: str = "postgres") -> list[list[str]]:
        out = subprocess.run(
            [
                "psql",
                "-h",
                str(sock),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-F",
                "\t",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    try:
        yield sql
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def deployed(renders, reference):
    """Per stack: every object Kubernetes would receive, Helm-rendered from the pinned charts
    (../shared/charts) plus the objects the program declares itself, tagged with their source."""
    from offline import manifests

    if not manifests.CHARTS_DIR.is_dir():
        pytest.fail(f"no local chart repository at {manifests.CHARTS_DIR}")
    found = {}
    for stack, result in renders.items():
        objects = [(release.name, o) for release in manifests.releases(result) for o in release.objects]
        objects += [("pulumi", o) for o in manifests.declared_objects(result)]
        found[stack] = objects
    return found


@pytest.fixture(scope="session")
def scrape_model(deployed):
    """How prod's Prometheus labels what it scrapes: the ServiceMonitors Helm renders."""
    from offline.scrape_model import ScrapeModel

    return ScrapeModel(deployed["prod"])


# ---------------------------------------------------------------- Alertmanager on the rendered config


@pytest.fixture(scope="module")
def rendered_configs(renders, tmp_path_factory) -> dict[str, Path]:
    """The alertmanager.yaml that `python -m offline <stack>` writes, per stack."""
    from offline import render

    paths = {}
    for stack in STACKS:
        out = tmp_path_factory.mktemp(f"render-{stack}")
        render.write(renders[stack], out)
        paths[stack] = out / "alertmanager.yaml"
    return paths


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, str]]:
    """The stand-in for PagerDuty, Slack and the dead man's switch, and its base URL."""
    from bench.incident_sink import Sink, serve

    found = Sink()
    server = serve(found)
    yield found, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def start(sink, rendered_configs, tmp_path) -> Iterator:
    """Start Alertmanager replicas on the live prod configuration; all stopped afterwards."""
    from alertmanager_replica import Alertmanager, live_config

    started: list[Alertmanager] = []

    def replica(name: str = "a") -> Alertmanager:
        started.append(Alertmanager(live_config(rendered_configs["prod"], sink[1]), tmp_path / name))
        return started[-1]

    yield replica
    for am in started:
        if am.process.poll() is None:
            am.stop()


def phase_two(prod, role: str, root: Path) -> dict[str, str]:
    """Run the file-writing part of the host's converge script with bash, ``install`` writing
    under ``root``; return {path: content} of what it wrote."""
    script = offline.unwrap(prod.one("command:remote:Command", f"critical-path-{role}-converge").inputs["stdin"])
    part = script.split("# 2. Files.\n", 1)[1].split("# 3. ", 1)[0]
    shim = (
        'install() { local mode=$3 target="$ROOT$5"; mkdir -p "$(dirname "$target")"; '
        'cat > "$target"; chmod "$mode" "$target"; }\n'
    )
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", shim + part], env={"ROOT": str(root), "PATH": "/usr/bin:/bin"}, check=True
    )
    return {"/" + p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


HOST_ROLES = ("market-data", "strategy", "order-management")  # Pulumi.prod.yaml's hosts


@pytest.fixture(scope="module")
def host_files(prod, tmp_path_factory) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each prod host's phase-two files, written by bash under a directory per role."""
    found = {}
    for role in HOST_ROLES:
        root = tmp_path_factory.mktemp(role)
        found[role] = (root, phase_two(prod, role, root))
    return found


def selfcheck_metrics(tmp_path: Path) -> set[str]:
    """The series the hosts' own self-check writes: run it on this machine's /proc and /sys
    with a synchronised chronyc answer, and read the names from its textfile."""
    from bench.rehearsal_parts import host_selfcheck_textfile

    return set(re.findall(r"^# TYPE (\w+) ", host_selfcheck_textfile(tmp_path), re.M))
