"""`apply` at its question on a real terminal (a pty): Ctrl-C there stops the run as anywhere
else (exit 130, the interruption's message; click's own "Aborted!" exit 1 before), and with
`-o json` the plan the question is about is shown on stderr first (stdout stays JSON)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")


def on_a_terminal(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    shutil.copytree(REPO / "manifests", tmp_path / "m")
    parent, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "RECONCILER_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "apply", f"--simulator={tmp_path / 'state.db'}",
         str(tmp_path / "m"), *args],
        stdin=child, stdout=subprocess.PIPE, stderr=child, env={**env, "NO_COLOR": "1"},
    )  # fmt: skip
    os.close(child)
    return proc, parent


def read_until(fd: int, text: str, timeout: float = 30.0) -> str:
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        try:
            seen += os.read(fd, 4096)
        except OSError:  # the process ended and closed the terminal: nothing more comes
            break
    said = seen.decode(errors="replace")
    assert text in said, said
    return said


def test_ctrl_c_at_the_question_exits_130(tmp_path: Path) -> None:
    proc, terminal = on_a_terminal(tmp_path)
    read_until(terminal, "Apply these changes? [y/N]")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    said = read_until(terminal, "interrupted by SIGINT")
    os.close(terminal)
    assert proc.returncode == 130
    assert "Aborted!" not in said
    assert b"Plan: 3 to create" in out


def test_json_output_shows_the_plan_before_asking(tmp_path: Path) -> None:
    proc, terminal = on_a_terminal(tmp_path, "-o", "json")
    said = read_until(terminal, "Apply these changes? [y/N]")
    assert '+ stream studio-a "Studio A"' in said and "Plan: 3 to create" in said
    os.write(terminal, b"y\n")
    out, _ = proc.communicate(timeout=60)
    os.close(terminal)
    assert proc.returncode == 0
    assert json.loads(out)["summary"]["done"] == 5
