"""The real command line routed to the in-process simulator (tests/cli_harness.py), and a private
copy of the example manifests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A private copy of the repository's example manifests (tests may edit it)."""
    target = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, target)
    return target


@pytest.fixture
def invoke(sim: Any) -> Invoke:
    """`invoke("plan", path, ...)` runs the CLI against `sim` with GCORE_API_KEY set."""
    return Invoke(sim)
