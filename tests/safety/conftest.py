"""The real command line routed to the in-process simulator (tests/cli_harness.py), for the
end-to-end safety tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cli_harness import Invoke, cli_against


@pytest.fixture
def reconcile(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`reconcile("apply", "--yes", path)` runs `reconciler` against the `sim` fixture."""
    return cli_against(sim, monkeypatch)


@pytest.fixture
def reconcile_on(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Invoke]:
    """`reconcile_on(simulator)("plan", path)`: the CLI against a simulator the test built."""
    return lambda simulator: cli_against(simulator, monkeypatch)
