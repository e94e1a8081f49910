"""The real command line (click's CliRunner on `reconciler.cli:main`) routed to the in-process
simulator through the CLI's transport seam, with the environment a user would set."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler import cli, cli_account
from reconciler.redact import forget_secrets

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Invoke = Callable[..., Run]


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A private copy of the repository's example manifests (tests may edit it)."""
    target = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, target)
    return target


@pytest.fixture
def invoke(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`invoke("plan", path, ...)` runs the CLI against `sim` with GCORE_API_KEY set."""
    monkeypatch.setattr(cli_account, "transport_override", sim.transport())
    base_env = {
        "GCORE_API_KEY": sim.config.api_key,
        "GCORE_BASE_URL": "http://simulator.invalid",
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "0",
        "NO_COLOR": "1",
    }

    def run(*args: Any, env: dict[str, str | None] | None = None, input: str | None = None) -> Run:
        runner = CliRunner()
        result = runner.invoke(
            cli.main,
            [str(a) for a in args],
            env={**base_env, **(env or {})},
            input=input,
            catch_exceptions=False,
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    return run
