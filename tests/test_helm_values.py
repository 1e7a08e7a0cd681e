"""Every key path of every Helm values tree the program sets exists in the chart's default
values (../shared/reference/charts/<chart>/values.yaml), or lies under a map the chart
documents as free-form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import STACKS

RELEASE = "kubernetes:helm.sh/v3:Release"
# Sub-charts of kube-prometheus-stack: their values live under the parent's key.
SUBCHARTS = {
    "kube-prometheus-stack": {
        "grafana": "grafana",
        "kube-state-metrics": "kube-state-metrics",
        "prometheus-node-exporter": "prometheus-node-exporter",
    }
}


# Maps a chart renders verbatim into a program's own configuration file, so any key of that
# program is valid below them (each documented as such in the chart's values.yaml).
FREE_FORM: dict[str, set[tuple[str, ...]]] = {
    "grafana": {("grafana.ini",)},  # rendered as grafana.ini: every Grafana option
    "opentelemetry-collector": {("config",)},  # rendered as the collector's config.yaml
    "loki": {
        ("loki", "limits_config"),
        ("loki", "compactor"),
        ("loki", "ingester"),
        ("loki", "schemaConfig"),
    },  # rendered into Loki's config.yaml
}


# Kubernetes label, annotation and node-selector maps: any label key is valid in them.
KUBERNETES_MAPS = {
    "nodeSelector",
    "annotations",
    "labels",
    "podAnnotations",
    "podLabels",
    "commonLabels",
    "extraLabels",
    "additionalLabels",
}


def _commented_keys(text: str) -> set[str]:
    """Keys the chart documents as commented examples (`# configSecret:`)."""
    return set(re.findall(r"^\s*#\s*([A-Za-z_][A-Za-z0-9_.-]*):", text, re.M))


def _free_form_by_schema(schema: dict | None, path: tuple[str, ...]) -> bool:
    node = schema
    for key in path:
        if not isinstance(node, dict):
            return False
        props = node.get("properties") or {}
        if key in props:
            node = props[key]
        else:
            return bool(node.get("additionalProperties") not in (None, False) or node.get("patternProperties"))
    return isinstance(node, dict) and (
        node.get("additionalProperties") not in (None, False)
        or node.get("type") == "object"
        and "properties" not in node
    )


class Chart:
    def __init__(self, directory: Path):
        self.free_form = FREE_FORM.get(directory.name, set())
        self.text = (directory / "values.yaml").read_text()
        self.defaults = yaml.safe_load(self.text) or {}
        schema_path = directory / "values.schema.json"
        self.schema = yaml.safe_load(schema_path.read_text()) if schema_path.exists() else None
        self.commented = _commented_keys(self.text)

    def problems(self, values, path: tuple[str, ...] = ()) -> list[str]:
        found: list[str] = []
        if not isinstance(values, dict):
            return found
        for key, value in values.items():
            here = path + (str(key),)
            if any(here[: len(prefix)] == prefix for prefix in self.free_form) or (
                path and path[-1] in KUBERNETES_MAPS
            ):
                continue
            default = self._default(here)
            if default is _MISSING:
                parent = self._default(path)
                free = (
                    parent == {}
                    or _free_form_by_schema(self.schema, here)
                    or (key in self.commented and isinstance(parent, dict))
                )
                if not free:
                    found.append(".".join(here))
                continue
            if isinstance(default, dict) and default == {}:
                continue  # a free-form map: anything below is the user's
            if isinstance(value, dict) and isinstance(default, dict):
                found += self.problems(value, here)
        return found

    def _default(self, path):
        node = self.defaults
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return _MISSING
            node = node[key]
        return node


_MISSING = object()


def _releases(renders, stack):
    return renders[stack].of_type(RELEASE)


@pytest.mark.parametrize("stack", STACKS)
def test_every_helm_value_path_exists_in_the_chart(renders, stack, reference):
    releases = _releases(renders, stack)
    assert releases, "no Helm release declared"
    for release in releases:
        chart = release.inputs["chart"]
        chart_dir = reference / "charts" / chart
        assert chart_dir.is_dir(), f"no reference values for chart {chart}"
        values = release.inputs.get("values") or {}
        parent = Chart(chart_dir)
        subcharts = SUBCHARTS.get(chart, {})
        problems = parent.problems({k: v for k, v in values.items() if k not in subcharts})
        for key, sub in subcharts.items():
            if key not in values:
                continue
            parent_level = parent._default((key,)) or {}
            problems += parent.problems({key: {k: v for k, v in values[key].items() if k in parent_level}})
            sub_values = {k: v for k, v in values[key].items() if k not in parent_level}
            problems += [f"{key}.{p}" for p in Chart(reference / "charts" / sub).problems(sub_values)]
        assert not problems, f"{chart}: key paths not in the chart's values: {problems}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_pins_its_chart_version(renders, stack, reference):
    for release in _releases(renders, stack):
        chart = release.inputs["chart"]
        source = (reference / "charts" / chart / "SOURCE.txt").read_text()
        version = release.inputs["version"]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", version), (chart, version)
        assert version.lstrip("v") in source, f"{chart} {version} is not the version of the reference values"


def test_the_checker_catches_an_invented_key(reference):
    chart = Chart(reference / "charts" / "kube-prometheus-stack")
    assert chart.problems({"prometheus": {"prometheusSpec": {"retentionn": "10d"}}}) == [
        "prometheus.prometheusSpec.retentionn"
    ]
    assert (
        chart.problems({"prometheus": {"prometheusSpec": {"retention": "10d", "nodeSelector": {"any": "thing"}}}}) == []
    )
    assert chart.problems({"alertmanager": {"alertmanagerSpec": {"configSecret": "x"}}}) == []
