"""The real command line (click's CliRunner on `reconciler.cli:main`) routed to the in-process
simulator through the CLI's transport seam, and a wrapper that breaks the API's answers."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler import cli, cli_account
from reconciler.redact import forget_secrets

REPO = Path(__file__).resolve().parents[2]
KEY = "gc-4f1d2a9be07c4d5e8a6b3c2d1e0f9a8b"  # looks like a real key; the simulator accepts it

Rewrite = Callable[[httpx.Request, httpx.Response | None], httpx.Response | None]


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


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
def invoke(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """`invoke("plan", path, ...)` runs the CLI against `sim` with GCORE_API_KEY set."""
    monkeypatch.setattr(cli_account, "transport_override", sim.transport())
    base_env = {
        "GCORE_API_KEY": KEY,
        "GCORE_BASE_URL": "http://simulator.invalid",
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "0",
        "RECONCILER_LOG": None,
        "NO_COLOR": "1",
    }

    def run(*args: Any, env: dict[str, str | None] | None = None) -> Run:
        result = CliRunner().invoke(
            cli.main, [str(a) for a in args], env={**base_env, **(env or {})}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback the user would see
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def breaking(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[Rewrite], None]:
    """`breaking(rewrite)`: from now on the CLI's answers pass through `rewrite`."""

    def install(rewrite: Rewrite) -> None:
        monkeypatch.setattr(cli_account, "transport_override", Breaking(sim.transport(), rewrite))

    return install
