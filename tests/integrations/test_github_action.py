"""action.yml: its metadata says what docs/ci-examples.md promises, and its command step, run with
bash the way a runner runs a composite step, validates, plans (markdown in the job summary and
an output file, the exit code as an output) and applies (the lock owned by the run's URL)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
RUN_URL = "https://github.com/acme/streams/actions/runs/4242"


def step(step_id: str) -> dict[str, Any]:
    [found] = [s for s in ACTION["runs"]["steps"] if s.get("id") == step_id]
    return found


def test_the_metadata_declares_the_documented_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {
        "command",
        "path",
        "args",
        "api-key",
        "base-url",
        "python-version",
    }
    assert ACTION["inputs"]["command"]["default"] == "plan"
    assert set(ACTION["outputs"]) == {"exit-code", "markdown-file"}
    env = step("run")["env"]
    assert env["GCORE_API_KEY"] == "${{ inputs.api-key }}"  # the key from a secret, via input
    assert env["RECONCILER_LOCK_OWNER"] == (
        "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}"
    )
    installs = [s for s in ACTION["runs"]["steps"] if "pip install" in s.get("run", "")]
    assert installs and installs[0]["env"]["ACTION_PATH"] == "${{ github.action_path }}"


class Runner:
    """Runs the action's command step as a runner would: `bash -eo pipefail` with the step's env
    (expressions replaced by the values given), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.script = tmp / "step.sh"
        self.script.write_text(step("run")["run"], encoding="utf-8")
        self.summary = tmp / "summary.md"

    def run(self, command: str, path: str, args: str = "") -> tuple[int, dict[str, str], str]:
        outputs = self.tmp / f"outputs-{command}"
        outputs.write_text("")
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.tmp),
            "COMMAND": command,
            "MANIFESTS": path,
            "ARGS": args,
            "GCORE_API_KEY": "",
            "GCORE_BASE_URL": "",
            "RECONCILER_LOCK_OWNER": RUN_URL,
            "MARKDOWN": str(self.tmp / f"reconciler-{command}.md"),
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(self.summary),
        }
        bash = shutil.which("bash")
        assert bash
        done = subprocess.run(
            [bash, "--noprofile", "--norc", "-eo", "pipefail", str(self.script)],
            cwd=self.tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
        return done.returncode, values, done.stdout + done.stderr


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    return Runner(tmp_path)


def test_validate_then_plan_then_apply_through_the_action_step(runner: Runner) -> None:
    manifests = str(runner.tmp / "manifests")
    code, outputs, log = runner.run("validate", manifests)
    assert (code, outputs["exit-code"]) == (0, "0"), log
    assert "markdown-file" not in outputs

    simulator = f"--simulator={runner.tmp / 'account.sqlite'}"
    code, outputs, log = runner.run("plan", manifests, simulator)
    assert (code, outputs["exit-code"]) == (0, "2"), log  # changes pending: the check passes
    markdown = Path(outputs["markdown-file"]).read_text()
    assert markdown.startswith("### reconciler plan")
    assert "**Plan: 3 to create" in markdown
    assert markdown in runner.summary.read_text()

    code, outputs, log = runner.run("apply", manifests, f"{simulator} --log-format json")
    assert (code, outputs["exit-code"]) == (0, "0"), log
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(RUN_URL in e["message"] for e in events if e["logger"].startswith("reconciler.lock"))
    assert "### reconciler apply" in Path(outputs["markdown-file"]).read_text()

    code, outputs, log = runner.run("plan", manifests, simulator)
    assert (code, outputs["exit-code"]) == (0, "0"), log


def test_a_failing_command_fails_the_step_with_its_exit_code(runner: Runner) -> None:
    bad = runner.tmp / "manifests" / "streams.yaml"
    bad.write_text(bad.read_text().replace("  active: true", "  actve: true", 1))
    code, outputs, log = runner.run("validate", str(runner.tmp / "manifests"))
    assert (code, outputs["exit-code"]) == (1, "1")
    assert "streams.yaml:" in log and "spec.actve" in log

    code, outputs, log = runner.run("plan", str(runner.tmp / "manifests"))
    assert (code, outputs["exit-code"]) == (1, "1")  # no key, no --simulator: an error

    code, outputs, log = runner.run("destroy", "manifests/")
    assert code == 1 and "command must be validate, plan or apply" in log
