"""What Kubernetes would receive: every Helm release of a render, templated by Helm's own Go
library (helm-python-sdk) from the pinned chart archive in ``../shared/charts/`` with the
values the program passes, for the Kubernetes version the stack deploys.

The capability set is derived, not written by hand: the built-in group/version/kinds come from
the Kubernetes OpenAPI schemas that kubernetes-validate ships for that version, and the custom
ones from the CustomResourceDefinitions the rendered releases themselves install.  Manifests
are split the way Helm splits them and parsed with a YAML loader that keeps numbers numbers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from offline.engine import ROOT, RenderResult, unwrap

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CHARTS_DIR = Path(os.environ.get("TRADING_CHARTS_DIR", ROOT.parent / "shared" / "charts"))
_SPLIT = re.compile(r"(?:^|\s*\n)---\s*")


class _ManifestLoader(yaml.SafeLoader):
    """Safe loading, plus the YAML 1.1 value scalar ``=`` some CRDs contain."""


def _value_scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_ManifestLoader.add_constructor("tag:yaml.org,2002:value", _value_scalar)


@dataclass
class Release:
    name: str
    namespace: str
    chart: str
    version: str
    values: dict[str, Any]
    objects: list[dict[str, Any]] = field(default_factory=list)


def split_documents(text: str) -> list[dict[str, Any]]:
    """Helm's own split of a template's output, then YAML; empty documents dropped."""
    objects = []
    for part in _SPLIT.split(text):
        if part.strip():
            document = yaml.load(part, Loader=_ManifestLoader)  # noqa: S506 - a SafeLoader subclass
            if isinstance(document, dict):
                objects.append(document)
    return objects


@cache
def builtin_api_versions(kubernetes_version: str) -> tuple[str, ...]:
    """``group/version`` and ``group/version/Kind`` of every built-in kind of that Kubernetes."""
    import kubernetes_validate

    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    definitions = json.loads((schemas / f"v{kubernetes_version}-local-strict" / "_definitions.json").read_text())
    found: set[str] = set()
    for definition in definitions["$defs"].values():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            found |= {group_version, f"{group_version}/{gvk['kind']}"}
    return tuple(sorted(found))


def crd_api_versions(objects: Iterable[dict[str, Any]]) -> set[str]:
    """``group/version`` and ``group/version/Kind`` of every CRD among ``objects``."""
    found: set[str] = set()
    for crd in objects:
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec["versions"]:
            group_version = f"{spec['group']}/{version['name']}"
            found |= {group_version, f"{group_version}/{spec['names']['kind']}"}
    return found


@cache
def _chart_archive(name: str, version: str) -> bytes:
    path = CHARTS_DIR / f"{name}-{version}.tgz"
    if not path.exists():
        raise FileNotFoundError(f"chart {name} {version} not found in {CHARTS_DIR} (pins.yaml and the charts differ?)")
    return path.read_bytes()


def render_objects(release: Release, kubernetes_version: str, api_versions: Iterable[str]) -> list[dict[str, Any]]:
    import helm_python
    from helm_python import _native

    chart = helm_python.Chart.load_archive(_chart_archive(release.chart, release.version))
    options = {
        "name": release.name,
        "namespace": release.namespace,
        "is_install": True,
        "kube_version": f"v{kubernetes_version}",
        "api_versions": sorted(api_versions),
    }
    rendered = json.loads(
        _native.call_string("helm_render", chart._raw(), json.dumps(release.values), json.dumps(options))
    )
    objects = []
    for crd in chart.crds:  # `crds/` files: Helm installs them before the templates
        data = crd["data"]
        objects += split_documents(data if isinstance(data, str) else bytes(data).decode())
    for path in sorted(rendered):
        if not path.endswith("NOTES.txt"):
            objects += split_documents(rendered[path])
    # `helm test` pods run only on `helm test`, never on install: not part of what is deployed.
    return [o for o in objects if "test" not in _hooks(o)]


def _hooks(obj: dict[str, Any]) -> set[str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return {h.strip() for h in str(annotations.get("helm.sh/hook", "")).split(",") if h.strip()}


def kubernetes_version_of(result: RenderResult) -> str:
    """The full version to render and validate for: a bare minor means its first patch."""
    version = str(result.config.cluster.kubernetes_version)
    return version if version.count(".") == 2 else f"{version}.0"


def releases(result: RenderResult) -> list[Release]:
    """Every Helm release of the render, templated; CRD kinds installed by any release count as
    served for all of them (the program installs the CRDs before the releases that use them)."""
    found = [
        Release(
            name=r.inputs["name"],
            namespace=r.inputs.get("namespace") or "default",
            chart=r.inputs["chart"],
            version=r.inputs["version"],
            values=unwrap(r.inputs.get("values") or {}),
        )
        for r in result.of_type(HELM_RELEASE)
    ]
    kubernetes = kubernetes_version_of(result)
    served = set(builtin_api_versions(kubernetes))
    for release in found:  # first pass: which CRDs exist once everything is installed
        served |= crd_api_versions(render_objects(release, kubernetes, served))
    for release in found:
        release.objects = render_objects(release, kubernetes, served)
    return found


def dump(release: Release) -> str:
    header = f"# Helm release {release.name} ({release.chart} {release.version}) in {release.namespace}\n"
    return header + "".join("---\n" + yaml.safe_dump(o, sort_keys=False, width=120) for o in release.objects)


def declared_objects(result: RenderResult) -> list[dict[str, Any]]:
    """The Kubernetes objects the program declares itself (not through Helm), as manifests."""
    objects = []
    for r in result.resources:
        if not r.type.startswith("kubernetes:") or r.type in (HELM_RELEASE, "pulumi:providers:kubernetes"):
            continue
        manifest = unwrap(r.inputs)
        if "apiVersion" in manifest and "kind" in manifest:
            objects.append(manifest)
    return objects


def prometheus_rule_groups(objects: Iterable[dict[str, Any]], names: Iterable[str]) -> dict[str, Any]:
    """A rule file (as promtool and Prometheus read it) of the named groups among the
    PrometheusRules in ``objects``: the chart's own recording rules, which the dashboard reads."""
    wanted = set(names)
    groups = [
        group
        for obj in objects
        if obj.get("kind") == "PrometheusRule"
        for group in obj["spec"]["groups"]
        if group["name"] in wanted
    ]
    missing = wanted - {g["name"] for g in groups}
    if missing:
        raise LookupError(f"no PrometheusRule group {sorted(missing)} in the rendered objects")
    return {"groups": groups}
