"""The real command line routed to the in-process simulator, plus small helpers to read the
account the way a user would (for the adversarial end-to-end review scenarios)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner


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
    from reconciler.redact import forget_secrets

    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def cli(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """`cli("apply", "--yes", path)` runs `reconciler` against the `sim` fixture."""
    from reconciler import cli as cli_module
    from reconciler import cli_account

    monkeypatch.setattr(cli_account, "transport_override", sim.transport())
    env = {
        "GCORE_API_KEY": sim.config.api_key,
        "GCORE_BASE_URL": "http://simulator.invalid",
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "0",
        "NO_COLOR": "1",
    }

    def run(*args: Any) -> Run:
        result = CliRunner().invoke(
            cli_module.main, [str(a) for a in args], env=env, catch_exceptions=False
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """`write(text)` (re)writes the manifest file and returns its path."""
    path = tmp_path / "set.yaml"

    def put(text: str) -> Path:
        path.write_text(text)
        return path

    return put
