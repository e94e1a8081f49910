"""Issue 12 (CPU of the no-op plan): the commands that talk to an account do not import the
simulator; `reconciler simulator ...` still finds it (loaded when asked for)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from reconciler.cli import commands


def test_importing_the_command_line_leaves_the_simulator_out() -> None:
    code = (
        "import sys, reconciler.cli; "
        "print(sorted(m for m in sys.modules if m.startswith('reconciler.simulator')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_simulator_group_is_still_a_command() -> None:
    result = CliRunner().invoke(commands.main, ["--help"])
    assert "simulator" in result.output
    result = CliRunner().invoke(commands.main, ["simulator", "serve", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output


def test_importing_the_command_line_leaves_httpx_own_command_line_out() -> None:
    # httpx imports its CLI (click, rich, pygments) whenever they are installed: ~70 ms of
    # every run for something no command uses. httpx itself still imports and works.
    code = (
        "import sys, reconciler.cli, httpx; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'pygments') "
        "or m == 'httpx._main')); "
        "print(httpx.Client().build_request('GET', 'http://x.invalid/a').url)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "http://x.invalid/a"]
