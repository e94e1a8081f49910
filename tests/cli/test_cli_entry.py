"""The installed entry points (`python -m reconciler`, the `reconciler` script) as separate
processes, some against the simulator over a real local port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "RECONCILER_"))}
    return subprocess.run(
        args,
        env={**clean, "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def script() -> str:
    found = shutil.which("reconciler", path=str(Path(sys.executable).parent))
    assert found, "the reconciler script is not installed next to this Python"
    return found


def test_python_dash_m_validates_the_examples() -> None:
    result = run(sys.executable, "-m", "reconciler", "validate", "manifests")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(": valid\n")


def test_the_script_reports_its_version_and_refuses_without_a_key() -> None:
    version = run(script(), "--version")
    assert version.returncode == 0 and __version__ in version.stdout
    no_key = run(script(), "plan", "manifests")
    assert no_key.returncode == 1
    assert "GCORE_API_KEY" in no_key.stderr and "--simulator" in no_key.stderr
    assert "Traceback" not in no_key.stderr


@pytest.mark.port
def test_apply_then_plan_over_a_real_port(sim: Any, sim_server: Any) -> None:
    env = {
        "GCORE_API_KEY": sim.config.api_key,
        "GCORE_BASE_URL": sim_server.url,
        "RECONCILER_RATE_LIMIT": "0",
    }
    refused = run(script(), "apply", "manifests", env=env)  # stdin is not a terminal
    assert refused.returncode == 1 and "--yes" in refused.stderr

    applied = run(script(), "apply", "--yes", "manifests", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply: 5 done, 0 failed, 0 skipped, 0 held." in applied.stdout

    sim.clear_log()
    planned = run(
        sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode", "manifests", env=env
    )
    again = run(script(), "apply", "--yes", "manifests", env=env)
    assert (planned.returncode, again.returncode) == (0, 0), planned.stderr + again.stderr
    assert [e for e in sim.requests() if e["method"] != "GET"] == []
    assert sim.config.api_key not in applied.stdout + applied.stderr
