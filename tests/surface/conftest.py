"""The real command line (click's CliRunner on `reconciler.cli:main`) routed to the in-process
simulator through the CLI's transport seam, and a wrapper that breaks the API's answers."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke

REPO = Path(__file__).resolve().parents[2]
KEY = "gc-4f1d2a9be07c4d5e8a6b3c2d1e0f9a8b"  # looks like a real key; the simulator accepts it

Rewrite = Callable[[httpx.Request, httpx.Response | None], httpx.Response | None]


@pytest.fixture
def sim() -> Iterator[Any]:
    from reconciler.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(api_key=KEY))
    yield simulator
    simulator.close()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A private copy of the repository's example manifests."""
    target = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", target)
    return target


class Breaking(httpx.BaseTransport):
    """`rewrite(request, None)` may answer in the simulator's place (it then never sees the
    request); else the simulator answers and `rewrite(request, answer)` may replace it."""

    def __init__(self, inner: httpx.BaseTransport, rewrite: Rewrite) -> None:
        self.inner = inner
        self.rewrite = rewrite

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        instead = self.rewrite(request, None)
        if instead is not None:
            return instead
        response = self.inner.handle_request(request)
        response.read()
        return self.rewrite(request, response) or response


@pytest.fixture
def invoke(sim: Any) -> Invoke:
    """`invoke("plan", path, ...)` runs the CLI against `sim` with GCORE_API_KEY set."""
    return Invoke(sim)


@pytest.fixture
def breaking(sim: Any, invoke: Invoke) -> Callable[[Rewrite], None]:
    """`breaking(rewrite)`: from now on the CLI's answers pass through `rewrite`."""

    def install(rewrite: Rewrite) -> None:
        invoke.transport = Breaking(sim.transport(), rewrite)

    return install
