"""Every --help states the exit codes and the defaults the code really uses, and the command
tables of README.md and docs/cli.md list every command the CLI has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import REPO

from reconciler.api.settings import ClientSettings
from reconciler.cli import commands as cli
from reconciler.lock.lease import MAX_TTL, MIN_TTL
from reconciler.pipeline import DEFAULT_LOCK_TTL

COMMANDS = ["validate", "plan", "apply", "status", "export", "unlock", "schema"]


def help_of(*command: str) -> str:
    result = CliRunner().invoke(cli.main, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # click wraps; compare words


@pytest.mark.parametrize("command", [*COMMANDS, "simulator serve"])
def test_every_help_states_its_exit_codes(command: str) -> None:
    assert re.search(r"Exit \d", help_of(*command.split())), command


@pytest.mark.parametrize("command", ["plan", "apply", "status", "export", "unlock"])
def test_connection_defaults_in_the_help_are_the_clients(command: str) -> None:
    text = help_of(command)
    d = ClientSettings()
    assert f"Env: RECONCILER_RATE_LIMIT; default {d.rate_limit:g}." in text
    assert f"Env: RECONCILER_CONCURRENCY; default {d.concurrency}." in text
    assert f"Env: RECONCILER_TIMEOUT; default {d.timeout:g}." in text
    assert f"Env: RECONCILER_RETRIES; default {d.retries}." in text
    cli_md = (REPO / "docs" / "cli.md").read_text()
    for variable, value in [
        ("RATE_LIMIT", d.rate_limit),
        ("CONCURRENCY", d.concurrency),
        ("TIMEOUT", d.timeout),
        ("RETRIES", d.retries),
    ]:
        assert re.search(rf"\| `RECONCILER_{variable}` \|.*\| `{value:g}` \|", cli_md), variable


def test_the_lock_ttl_default_is_the_same_everywhere() -> None:
    ttl = f"{DEFAULT_LOCK_TTL:g}"
    assert f"[default: {DEFAULT_LOCK_TTL}; {MIN_TTL}<=x<={MAX_TTL}]" in help_of("apply")
    assert (
        f"(default {ttl}; {MIN_TTL:g} to {MAX_TTL:g}; refreshed"
        in (REPO / "docs" / "cli.md").read_text()
    )
    assert f"`--lock-ttl` ({ttl} s;" in (REPO / "README.md").read_text()


def test_the_command_tables_list_every_command() -> None:
    readme = (REPO / "README.md").read_text()
    cli_md = (REPO / "docs" / "cli.md").read_text()
    listed = help_of()
    for command in [*COMMANDS, "simulator"]:
        assert re.search(rf"\b{command}\b", listed)
        assert f"| `reconciler {command}" in readme, command
        assert f"| `{command}" in cli_md, command


def test_every_option_has_a_description() -> None:
    ctx = click.Context(cli.main)
    for name in [*COMMANDS, "simulator serve"]:
        command: click.Command | None = cli.main
        for part in name.split():
            assert isinstance(command, click.Group)
            command = command.get_command(ctx, part)
        assert command is not None
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts[0]}"


def test_readme_setup_commands_are_the_ones_ci_runs() -> None:
    """The README's set-up commands are what .ci/run runs verbatim (checked on a fresh clone
    by hand: see the report; here the text must not drift)."""
    readme = (REPO / "README.md").read_text()
    ci = Path(REPO / ".ci" / "run").read_text()
    test_command = "pip install -e '.[test]' && python -m pytest"
    assert test_command in readme and test_command in ci
    assert "pip install -e . && reconciler apply --simulator --yes manifests/" in readme
    assert ".reconciler/" in (REPO / ".gitignore").read_text().split()
