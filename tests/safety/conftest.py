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


@pytest.fixture
def reconcile(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., CliRun]]:
    """`reconcile("apply", "--yes", path)` runs `reconciler` against `sim` with a key set."""
    from reconciler import cli
    from reconciler.redact import forget_secrets

    monkeypatch.setattr(cli, "transport_override", sim.transport())
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

    forget_secrets()
    yield run
    forget_secrets()
