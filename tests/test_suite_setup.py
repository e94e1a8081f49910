"""What a newcomer meets first: `pytest` (the console script) collects what `python -m pytest`
does, and a run ends on pytest's `N passed` line even with `-q`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONSOLE_PYTEST = str(Path(sys.executable).parent / "pytest")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        list(args), cwd=REPO, env=env, capture_output=True, text=True, check=False
    )


def test_the_console_script_collects_the_modules_that_import_tests() -> None:
    # tests/simulator imports `tests.simulator.helpers`: only the repository root on sys.path
    # (pytest's `pythonpath`) lets the console script, which does not add the cwd, import it.
    done = run(CONSOLE_PYTEST, "--collect-only", "-q", "tests/simulator")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^\d+ tests collected", done.stdout, re.MULTILINE), done.stdout


def test_a_quiet_run_ends_on_the_passed_line() -> None:
    done = run(sys.executable, "-m", "pytest", "-q", "tests/test_redact.py")
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [0-9.]+s", last), done.stdout
