"""The code's habits, checked on the whole tree: ruff (lint and format) and mypy report nothing,
modules stay under 400 lines, the packages import each other only along the architecture,
every chart is pinned in pins.yaml, and the schema of keys is what Pulumi.yaml and the README
say."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components import pins
from components.config import schema
from conftest import ROOT
from offline import engine as offline

PYTHON_DIRS = ("components", "dashboards", "offline", "bench", "policy", "scripts", "examples", "tests")
MAX_LINES = 400

# Which package of components/ may import which.  The architecture has three layers (Scaleway,
# the cluster's base, observability and alerting) above a foundation (config, topology, pins);
# a component never imports another component package's constants.
FOUNDATION = {"config", "topology", "pins"}
ALLOWED = {
    "config": set(),
    "topology": set(),
    "pins": set(),
    "scaleway": {"config", "topology"},
    "cluster_base": {"config", "topology", "pins"},
    "observability": {"config", "topology", "pins", "cluster_base"},
    "alerting": {"config", "topology", "cluster_base"},
    "outputs": set(),
    # preflight composes the checks of several packages, as __main__.py composes components.
    "preflight": {"config", "observability", "scaleway"},
}


def python_files() -> list[Path]:
    files = [ROOT / "__main__.py"]
    for folder in PYTHON_DIRS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_reports_nothing():
    run = _run("ruff", "check", "--no-cache", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_has_nothing_to_change():
    run = _run("ruff", "format", "--check", "--no-cache", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_reports_nothing():
    # Settings in pyproject.toml: the whole tree, and type hints required on every function
    # outside tests/.
    run = _run("mypy", "--no-incremental")
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_stays_under_400_lines(path: Path):
    assert len(path.read_text().splitlines()) < MAX_LINES


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "components" and len(parts) > 1 else None


def package_imports() -> dict[str, set[str]]:
    """components/ package -> the other components/ packages its modules import."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "components").rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        module = ".".join(relative.parts).removesuffix(".__init__")
        own = _package_of(module)
        if own is None:
            continue
        graph.setdefault(own, set())
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                other = _package_of(target)
                if other and other != own:
                    graph[own].add(other)
    return graph


def test_packages_import_only_along_the_architecture():
    graph = package_imports()
    assert set(graph) == set(ALLOWED), "a package of components/ is missing from ALLOWED (decide its layer)"
    wrong = {pkg: sorted(deps - ALLOWED[pkg]) for pkg, deps in graph.items() if deps - ALLOWED[pkg]}
    assert not wrong, f"imports against the layering: {wrong}"


def test_import_graph_has_no_more_levels_than_the_architecture():
    graph = package_imports()

    def depth(pkg: str, seen: tuple[str, ...] = ()) -> int:
        assert pkg not in seen, f"import cycle: {' -> '.join(seen + (pkg,))}"
        return 1 + max((depth(d, seen + (pkg,)) for d in graph.get(pkg, ())), default=0)

    layers = {pkg: depth(pkg) for pkg in graph if pkg != "preflight"}
    # foundation = 1; Scaleway and the cluster's base = 2; observability and alerting = 3.
    assert max(layers.values()) <= 3, layers
    assert all(layers[p] == 1 for p in FOUNDATION), layers


def test_every_deployed_chart_is_pinned_and_exists_in_the_local_repository(prod, reference):
    """Chart pins come from pins.yaml only; each pin is a version the chart repository holds."""
    index = yaml.safe_load((reference.parent / "charts" / "index.yaml").read_text())
    available = {name: {e["version"] for e in entries} for name, entries in index["entries"].items()}
    deployed = {
        (r.inputs["chart"], r.inputs["version"], r.inputs["repositoryOpts"]["repo"])
        for r in prod.of_type("kubernetes:helm.sh/v3:Release")
    }
    pinned = {(c.name, c.version, c.repo) for c in pins.charts().values()}
    assert deployed <= pinned
    assert {name for name, _, _ in deployed} == set(pins.charts()), "a pin nothing deploys"
    for name, version, _ in deployed:
        assert version in available.get(name, set()), f"{name} {version} is not in ../shared/charts"


def test_no_module_writes_a_chart_version_outside_the_pin_file():
    versions = {c.version for c in pins.charts().values()}
    for path in (ROOT / "components").rglob("*.py"):
        text = path.read_text()
        found = [v for v in versions if f'"{v}"' in text]
        assert not found, f"{path.relative_to(ROOT)} writes chart version(s) {found}: use components.pins"


def test_renovate_updates_every_pinned_file():
    config = yaml.safe_load((ROOT / "renovate.json").read_text())  # JSON is YAML
    custom = config["customManagers"]
    assert any("pins" in "".join(m["managerFilePatterns"]) and m["datasourceTemplate"] == "helm" for m in custom)
    assert any("pins" in "".join(m["managerFilePatterns"]) and m["datasourceTemplate"] == "docker" for m in custom)
    assert {"pip_requirements", "github-actions"} <= set(config["enabledManagers"])
    # The foundation SDK's versions carry an epoch: Renovate must stay on the 11.x builds.
    rules = [r for r in config["packageRules"] if "grafana-foundation-sdk" in r.get("matchPackageNames", [])]
    allowed = re.compile(rules[0]["allowedVersions"].strip("/"))
    pinned = re.search(r"grafana-foundation-sdk==(\S+)", (ROOT / "requirements.txt").read_text())
    assert pinned and allowed.match(pinned.group(1)), "the pinned 11.x build must stay allowed"
    assert not allowed.match("1770000000!12.0.0") and not allowed.match("10.1.0")


def test_pulumi_yaml_declares_exactly_the_schema():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    expected = {k.name: schema.pulumi_declaration(k) for k in schema.KEYS if k.declared_in_pulumi_yaml}
    assert declared == expected
    undeclared = {k.name for k in schema.KEYS if not k.declared_in_pulumi_yaml}
    header = (ROOT / "Pulumi.yaml").read_text().split("\nconfig:")[0]
    assert all(name in header for name in undeclared), "object keys and secrets are documented in the header"


def test_readme_configuration_table_is_the_schema():
    assert schema.markdown_table() in (ROOT / "README.md").read_text()


def test_offline_render_reads_defaults_the_way_pulumi_does():
    stack_file = offline.read_stack_file("dev")
    for key in schema.KEYS:
        if key.declared_in_pulumi_yaml and not key.required and key.name not in _dev_keys():
            assert stack_file.values[key.name] == offline._as_config_string(key.default), key.name


def _dev_keys() -> set[str]:
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    return {k.split(":", 1)[1] for k in raw}
