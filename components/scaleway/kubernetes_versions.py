"""Which Kapsule Kubernetes versions a stack may ask for, from ``kubernetes_versions.yaml``.

Two rules come from the API and the provider (terraform-provider-scaleway's cluster
CustomizeDiff, as checked in ../shared/notes/field-notes.md, November 2026): a bare minor (``1.35``) only with
auto-upgrade on, a patch (``1.35.2``) only with it off; and a version past its end-of-life
date cannot be created ("no available upstream version found").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import yaml

from components.config import Problem, StackConfig

VERSIONS_FILE = Path(__file__).with_name("kubernetes_versions.yaml")
_VERSION = re.compile(r"^(1\.[0-9]{2})(\.[0-9]+)?$")


@cache
def end_of_life() -> Mapping[str, dt.date]:
    """Minor -> the last day Kapsule still creates it."""
    document = yaml.safe_load(VERSIONS_FILE.read_text())
    return {minor: dt.date.fromisoformat(str(entry["endOfLife"])) for minor, entry in document["versions"].items()}


def version_problems(cfg: StackConfig, today: dt.date | None = None) -> list[Problem]:
    today = today or dt.date.today()
    version, auto_upgrade = cfg.cluster.kubernetes_version, cfg.cluster.auto_upgrade
    match = _VERSION.match(version)
    if not match:
        return []  # the config validator has reported the form already
    minor, patch = match.group(1), match.group(2)
    known = end_of_life()
    live = sorted((m for m, day in known.items() if day >= today), key=lambda m: int(m.split(".")[1]))
    problems = []
    if minor not in known:
        problems.append(
            Problem(
                "kubernetesVersion",
                repr(version),
                f"a Kapsule minor listed in {VERSIONS_FILE.name}: {', '.join(live) or 'none live'}",
            )
        )
    elif known[minor] < today:
        problems.append(
            Problem(
                "kubernetesVersion",
                repr(version),
                f"a minor Kapsule still creates: {minor} reached end of life on "
                f"{known[minor].isoformat()}; use {', '.join(live) or 'a newer minor'}",
            )
        )
    if patch and auto_upgrade:
        problems.append(
            Problem(
                "kubernetesVersion",
                repr(version),
                f"a bare minor ({minor}) while autoUpgrade is true: Kapsule picks the patch; "
                "or set autoUpgrade false to pin a patch",
            )
        )
    if not patch and not auto_upgrade:
        problems.append(
            Problem(
                "kubernetesVersion",
                repr(version),
                f"a patch version such as {minor}.0 while autoUpgrade is false: a bare minor needs autoUpgrade true",
            )
        )
    return problems
