"""The real command line against an in-process simulator (tests/cli_harness.py), a private copy
of the example manifests, and a wrapper that rewrites the API's answers (a hostile server)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke, Run

from reconciler.redact import forget_secrets

REPO = Path(__file__).resolve().parents[2]
KEY = "gc-7e2d1c9ba08b4f5e9a6b3c2d1e0f9a8b"  # looks like a real key; the simulator accepts it

Rewrite = Callable[[httpx.Request, httpx.Response | None], httpx.Response | None]


@pytest.fixture
def sim() -> Iterator[Any]:
    from reconciler.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(api_key=KEY))
    yield simulator
    simulator.close()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    target = tmp_path / "manifests"
    shutil.copytree(REPO / "manifests", target)
    return target


@pytest.fixture
def harness(sim: Any) -> Invoke:
    return Invoke(sim)


@pytest.fixture
def invoke(harness: Invoke) -> Any:
    """Each run starts with no registered secret, as a new process would: a secret masked only
    because an earlier run in this test registered it would hide a leak."""
    run = harness

    def fresh(*args: Any, **kw: Any) -> Run:
        forget_secrets()
        return run(*args, **kw)

    return fresh


class _Rewriting(httpx.BaseTransport):
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
def rewriting(sim: Any, harness: Invoke) -> Callable[[Rewrite], None]:
    """`rewriting(fn)`: from now on `fn(request, None)` may answer in the simulator's place (it
    then never sees the request), else `fn(request, answer)` may replace the simulator's answer."""

    def install(rewrite: Rewrite) -> None:
        harness.transport = _Rewriting(sim.transport(), rewrite)

    return install
