"""The real command line (click's CliRunner on `reconciler.cli:main`) routed to an in-process
simulator through the CLI's transport parameter (`main(obj=transport)`), with the environment a
user would set. Shared by the end-to-end test folders (cli, safety, review, surface)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner

from reconciler.cli import commands as cli


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Invoke:
    """`run("apply", "--yes", path, env={...}, input="y\\n")` against a simulator, key set, no rate
    limit, no retries, no colour. A traceback the user would see fails the test. `transport` is
    what the next runs go through: a test may wrap the simulator's, or set None (the network)."""

    def __init__(self, sim: Any) -> None:
        self.transport: Any = sim.transport()
        self._env: dict[str, str | None] = {
            "GCORE_API_KEY": sim.config.api_key,
            "GCORE_BASE_URL": "http://simulator.invalid",
            "RECONCILER_RATE_LIMIT": "0",
            "RECONCILER_RETRIES": "0",
            "RECONCILER_LOG": None,
            "NO_COLOR": "1",
        }

    def __call__(
        self, *args: Any, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Run:
        result = CliRunner().invoke(
            cli.main,
            [str(a) for a in args],
            env={**self._env, **(env or {})},
            input=input,
            catch_exceptions=False,
            obj=self.transport,
        )
        return Run(result.exit_code, result.stdout, result.stderr)
