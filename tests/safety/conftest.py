"""The real command line routed to the in-process simulator (the CLI's transport seam), for the
end-to-end safety tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str


def cli_runner(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliRun]:
    """A function running `reconciler ARGS...` against `sim` with a key set."""
    from reconciler import cli, cli_account

    monkeypatch.setattr(cli_account, "transport_override", sim.transport())
    env = {
        "GCORE_API_KEY": sim.config.api_key,
        "GCORE_BASE_URL": "http://simulator.invalid",
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "0",
        "NO_COLOR": "1",
    }

    def run(*args: Any) -> CliRun:
        result = CliRunner().invoke(
            cli.main, [str(a) for a in args], env=env, catch_exceptions=False
        )
        return CliRun(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    from reconciler.redact import forget_secrets

    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def reconcile(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliRun]:
    """`reconcile("apply", "--yes", path)` runs `reconciler` against the `sim` fixture."""
    return cli_runner(sim, monkeypatch)


@pytest.fixture
def reconcile_on(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], Callable[..., CliRun]]:
    """`reconcile_on(simulator)("plan", path)`: the CLI against a simulator the test built."""
    return lambda simulator: cli_runner(simulator, monkeypatch)
