"""The install path users take: a wheel built with pip's wheel command, installed into a fresh
virtual environment (its dependencies from the package index), whose `reconciler` runs
`--version` and `validate` on the example manifests from outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from reconciler import __version__

REPO = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    source = tmp_path / "source"  # what the build reads, copied: it leaves *.egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "reconciler", source / "reconciler", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp_path / "dist"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, source, cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("reconciler-*.whl")
    assert wheel.name == f"reconciler-{__version__}-py3-none-any.whl"

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # this pip installs into it (--python): no ensurepip
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    pip = [sys.executable, "-m", "pip", "--python", bin_dir / "python"]
    installed = run(*pip, "install", "--quiet", wheel, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    elsewhere = tmp_path / "elsewhere"  # not the checkout: the code must come from the wheel
    shutil.copytree(REPO / "manifests", elsewhere / "manifests")
    version = run(bin_dir / "reconciler", "--version", cwd=elsewhere)
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"reconciler, version {__version__}\n"
    valid = run(bin_dir / "reconciler", "validate", "manifests/", cwd=elsewhere)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout == "1 stream, 2 broadcasts, 1 cleanup policy: valid\n"
    where = run(
        bin_dir / "python", "-c", "import reconciler; print(reconciler.__file__)", cwd=elsewhere
    )
    assert str(env_dir) in where.stdout  # the installed copy, not the checkout
