"""The chart and image pins of ``pins.yaml``: the only place a chart version is written."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PIN_FILE = Path(__file__).resolve().parent.parent / "pins.yaml"


@dataclass(frozen=True)
class Chart:
    """A chart pinned to one version, from its home repository."""

    name: str
    version: str
    repo: str


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str


@cache
def _document() -> dict:
    document = yaml.safe_load(PIN_FILE.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{PIN_FILE.name}: expected a mapping with 'charts' and 'images'")
    return document


def chart(name: str) -> Chart:
    """The pinned chart ``name``; a KeyError names the pin file when it is missing."""
    entry = _document()["charts"].get(name)
    if entry is None:
        raise KeyError(f"chart {name!r} is not pinned in {PIN_FILE.name}")
    return Chart(name, str(entry["version"]), str(entry["repository"]))


def image(name: str) -> Image:
    entry = _document()["images"].get(name)
    if entry is None:
        raise KeyError(f"image {name!r} is not pinned in {PIN_FILE.name}")
    return Image(str(entry["repository"]), str(entry["tag"]))


def charts() -> dict[str, Chart]:
    return {name: chart(name) for name in _document()["charts"]}
