"""The real command line routed to the in-process simulator (tests/cli_harness.py), for the
end-to-end safety tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cli_harness import Invoke


@pytest.fixture
def reconcile(sim: Any) -> Invoke:
    """`reconcile("apply", "--yes", path)` runs `reconciler` against the `sim` fixture."""
    return Invoke(sim)


@pytest.fixture
def reconcile_on() -> Callable[[Any], Invoke]:
    """`reconcile_on(simulator)("plan", path)`: the CLI against a simulator the test built."""
    return lambda simulator: Invoke(simulator)
