"""No inert configuration: every values key the program sets changes what Helm renders.

For each release of the prod render, each top-level key and each key one level below it is
removed in turn and the release rendered again with the pinned chart; identical manifests mean
the key does nothing (a default restated, a key the chart does not read, a misspelling) and
must go.  A render that fails without the key counts as an effect.  This replaces checking
key paths against the charts' values.yaml: a key can exist there and still change nothing.
"""

from __future__ import annotations

import copy

import pytest

from offline import manifests


def key_paths(values: dict) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in values.items():
        paths.append((key,))
        if isinstance(value, dict):
            paths += [(key, inner) for inner in value]
    return paths


def without(values: dict, path: tuple[str, ...]) -> dict:
    trimmed = copy.deepcopy(values)
    node = trimmed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return trimmed


@pytest.fixture(scope="module")
def prod_releases(renders, reference):
    result = renders["prod"]
    releases = manifests.releases(result)
    version = manifests.kubernetes_version_of(result)
    served = set(manifests.builtin_api_versions(version))
    for release in releases:
        served |= manifests.crd_api_versions(release.objects)
    return {r.name: r for r in releases}, version, served


def test_every_values_key_changes_the_rendered_manifests(prod_releases):
    releases, version, served = prod_releases
    inert = []
    checked = 0
    for release in releases.values():
        for path in key_paths(release.values):
            checked += 1
            trimmed = manifests.Release(
                release.name, release.namespace, release.chart, release.version, without(release.values, path)
            )
            try:
                same = manifests.render_objects(trimmed, version, served) == release.objects
            except Exception:  # noqa: BLE001 - the chart refuses to render without it: it matters
                same = False
            if same:
                inert.append(f"{release.name}: {'.'.join(path)}")
    assert checked > 150
    assert not inert, "values keys with no effect on the rendered manifests:\n" + "\n".join(inert)


def test_the_check_catches_an_inert_key(prod_releases):
    releases, version, served = prod_releases
    loki = releases["loki"]
    misspelt = {**loki.values, "singleBinary": {**loki.values["singleBinary"], "priorityClasName": "x"}}
    trimmed = manifests.Release(loki.name, loki.namespace, loki.chart, loki.version, misspelt)
    assert manifests.render_objects(trimmed, version, served) == loki.objects
