"""Shell completion as docs/ci-examples.md documents it: click's `_RECONCILER_COMPLETE` protocol
through the installed `reconciler` command completes commands and option choices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def complete(env: dict[str, str]) -> str:
    executable = Path(sys.executable).parent / "reconciler"  # the venv's console script
    assert executable.exists(), "the reconciler command is not installed: pip install -e ."
    done = subprocess.run(
        [executable], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_documented_bash_line_prints_a_completion_script() -> None:
    script = complete({"_RECONCILER_COMPLETE": "bash_source"})
    assert "_reconciler_completion()" in script
    assert "complete -o nosort -F _reconciler_completion reconciler" in script


def test_commands_and_choices_complete() -> None:
    bash = {"_RECONCILER_COMPLETE": "bash_complete"}
    commands = complete({**bash, "COMP_WORDS": "reconciler pl", "COMP_CWORD": "1"})
    assert commands.splitlines() == ["plain,plan"]
    formats = complete({**bash, "COMP_WORDS": "reconciler apply --log-format ", "COMP_CWORD": "3"})
    assert formats.splitlines() == ["plain,text", "plain,json"]
