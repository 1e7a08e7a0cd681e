"""Shared fixtures: the mock render of every stack, and the reference data beside the repo."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components import offline  # noqa: E402

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


def require_tool(name: str) -> str:
    """Path of a real tool the tests run; its absence is a failure, never a skip."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `bash .ci/run` or see README 'Tests'")
    return path
