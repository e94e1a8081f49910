"""The `reconciler-validate` pre-commit hook, run by pre-commit itself on a sample repository
(`pre-commit try-repo`, and `pre-commit run` with the documented config): a staged bad manifest
blocks the commit with its file:line, a good one passes, and a commit that changes no manifest
does not run it. The hook needs no key and sends no request (pre-commit installs the hook's
environment from the package index: about 30 s per environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from docs_blocks import yaml_blocks

REPO = Path(__file__).resolve().parents[2]
HOOK = "reconciler-validate"
GIT = [
    "git",
    "-c",
    "user.email=dev@example.com",
    "-c",
    "user.name=dev",
    "-c",
    "init.defaultBranch=main",
]


def git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The hook repository and the samples side by side: pre-commit names the repository by its
    # path relative to the sample, and builds the hook's environment once per name.
    return tmp_path_factory.mktemp("pre-commit")


@pytest.fixture(scope="module")
def hook_repo(workspace: Path) -> Path:
    """This repository as pre-commit sees it (committed, whatever the work tree's state)."""
    root = workspace / "reconciler"
    root.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(
        REPO / "reconciler", root / "reconciler", ignore=shutil.ignore_patterns("__pycache__")
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "hook")
    return root


@pytest.fixture(scope="module")
def pre_commit_home(workspace: Path) -> Path:
    return workspace / "home"


@pytest.fixture
def sample(workspace: Path, request: pytest.FixtureRequest) -> Path:
    """A user's repository with the example manifests committed."""
    root = workspace / request.node.name
    shutil.copytree(REPO / "manifests", root / "manifests")
    (root / "README.md").write_text("streams\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "manifests")
    return root


def pre_commit(sample: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pre-commit on the staged files, as `git commit` would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("GCORE_API_KEY", None)  # the hook needs no key
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color=never"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_bad_manifest_is_blocked_with_its_file_and_line(
    sample: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    streams = sample / "manifests" / "streams.yaml"
    lines = streams.read_text().splitlines()
    line = lines.index("  active: true") + 1
    lines[line - 1] = "  actve: true"
    streams.write_text("\n".join(lines) + "\n")
    git(sample, "add", "-A")
    # try-repo: the hook straight from its repository (it builds the hook's environment anew)
    result = pre_commit(sample, pre_commit_home, "try-repo", str(hook_repo), HOOK)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "reconciler validate" in result.stdout and "Failed" in result.stdout
    assert f"manifests/streams.yaml:{line}: spec.actve: unknown field" in result.stdout


def test_a_good_change_passes_and_other_files_do_not_run_the_hook(
    sample: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    """Through a `.pre-commit-config.yaml` as documented (its environment is built once)."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=hook_repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    config = {"repos": [{"repo": str(hook_repo), "rev": head, "hooks": [{"id": HOOK}]}]}
    (sample / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (sample / "README.md").write_text("streams, documented\n")
    git(sample, "add", "-A")
    untouched = pre_commit(sample, pre_commit_home, "run")
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    assert "(no files to check)Skipped" in untouched.stdout

    streams = sample / "manifests" / "streams.yaml"
    streams.write_text(streams.read_text().replace("  dvr_enabled: true", "  dvr_enabled: false"))
    git(sample, "add", "-A")
    changed = pre_commit(sample, pre_commit_home, "run")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "reconciler validate" in changed.stdout and "Passed" in changed.stdout


def test_the_documented_config_names_our_hook() -> None:
    [block] = [b for b in yaml_blocks() if b.name == ".pre-commit-config.yaml"]
    [repo] = yaml.safe_load(block.text)["repos"]
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [h["id"] for h in repo["hooks"]] == [HOOK]
    [ours] = [h for h in hooks if h["id"] == HOOK]
    assert ours["entry"] == "reconciler validate"
    assert ours["args"] == ["manifests/"] and ours["pass_filenames"] is False
