"""The real command line (click's CliRunner on `reconciler.cli:main`) routed to an in-process
simulator through the CLI's transport seam, with the environment a user would set. Shared by the
end-to-end test folders (cli, safety, review, surface)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import account as cli_account
from reconciler.cli import commands as cli


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


Invoke = Callable[..., Run]


def cli_against(sim: Any, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`run("apply", "--yes", path, env={...}, input="y\\n")` against `sim`, key set, no rate
    limit, no retries, no colour. A traceback the user would see fails the test."""
    monkeypatch.setattr(cli_account, "transport_override", sim.transport())
    base_env: dict[str, str | None] = {
        "GCORE_API_KEY": sim.config.api_key,
        "GCORE_BASE_URL": "http://simulator.invalid",
        "RECONCILER_RATE_LIMIT": "0",
        "RECONCILER_RETRIES": "0",
        "RECONCILER_LOG": None,
        "NO_COLOR": "1",
    }

    def run(*args: Any, env: dict[str, str | None] | None = None, input: str | None = None) -> Run:
        result = CliRunner().invoke(
            cli.main,
            [str(a) for a in args],
            env={**base_env, **(env or {})},
            input=input,
            catch_exceptions=False,
        )
        return Run(result.exit_code, result.stdout, result.stderr)

    return run
