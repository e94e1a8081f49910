"""The real command line routed to the in-process simulator, plus small helpers to read the
account the way a user would (for the adversarial end-to-end review scenarios)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke


@pytest.fixture
def cli(sim: Any) -> Invoke:
    """`cli("apply", "--yes", path)` runs `reconciler` against the `sim` fixture."""
    return Invoke(sim)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """`write(text)` (re)writes the manifest file and returns its path."""
    path = tmp_path / "set.yaml"

    def put(text: str) -> Path:
        path.write_text(text)
        return path

    return put
