"""Every exit code of plan, apply and validate through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import commands as cli

STUDIO_B = """
kind: Stream
name: studio-b
spec:
  active: true
"""


def mutating(sim: Any) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sim.requests() if e["method"] != "GET"]


def test_validate_exit_codes(sim: Any, invoke: Any, manifests: Path, tmp_path: Path) -> None:
    ok = invoke("validate", manifests)
    assert (ok.exit_code, ok.stdout) == (0, "1 stream, 2 broadcasts, 1 cleanup policy: valid\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Settings\nname: s\n---\nkind: Stream\nname: a\nspec:\n  actve: true\n")
    result = invoke("validate", bad)
    assert result.exit_code == 1
    assert f"{bad}:7: spec.actve: " in result.stderr and "did you mean 'active'" in result.stderr
    assert result.stderr.endswith("1 problem found\n")
    assert "Traceback" not in result.output
    assert sim.requests() == []


def test_invalid_manifests_send_no_request(sim: Any, invoke: Any, manifests: Path) -> None:
    (manifests / "broken.yaml").write_text("kind: Broadcast\nname: x\nspec:\n  streams: [nope]\n")
    for command in (("plan",), ("apply", "--yes")):
        result = invoke(*command, manifests)
        assert result.exit_code == 1
        assert "broken.yaml:4: spec.streams" in result.stderr
    assert sim.requests() == []


def test_plan_detailed_exitcode(sim: Any, invoke: Any, manifests: Path) -> None:
    assert invoke("plan", manifests).exit_code == 0
    assert invoke("plan", "--detailed-exitcode", manifests).exit_code == 2
    assert mutating(sim) == []
    assert invoke("apply", "--yes", manifests).exit_code == 0
    assert invoke("plan", "--detailed-exitcode", manifests).exit_code == 0


def test_apply_exits_3_when_a_change_is_held(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    (manifests / "studio-b.yaml").write_text(STUDIO_B)
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (studio_b,) = [s for s in api.list_streams() if s["name"] == "studio-b"]
    sim.connect(studio_b["id"])
    (manifests / "studio-b.yaml").unlink()
    sim.clear_log()

    result = invoke("apply", "--yes", manifests)
    assert result.exit_code == 3, result.output
    assert "! held: - stream studio-b" in result.stdout
    assert "Plan: 0 to create, 0 to update, 0 to delete, 0 actions, 1 held." in result.stdout
    assert mutating(sim) == []  # nothing else to do: no lock, no write
    assert any(s["id"] == studio_b["id"] for s in api.list_streams())

    held_plan = invoke("plan", "--detailed-exitcode", manifests)
    assert held_plan.exit_code == 2


class FailingTransport(httpx.BaseTransport):
    """Answers 503 to the creates of one broadcast; everything else reaches the simulator."""

    def __init__(self, inner: httpx.BaseTransport, name: str) -> None:
        self.inner, self.name = inner, name

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/streaming/broadcasts":
            body = json.loads(request.content)
            if body.get("broadcast", body).get("name") == self.name:
                return httpx.Response(503, json={"status": 503, "error": "Service Unavailable"})
        return self.inner.handle_request(request)


def test_partial_failure_exits_1_and_the_next_run_finishes(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    invoke.transport = FailingTransport(sim.transport(), "Launch show")
    first = invoke("apply", "--yes", manifests)
    assert first.exit_code == 1, first.output
    lines = first.stdout.splitlines()
    launch = '+ broadcast launch-show "Launch show"'
    assert any(
        line.startswith(f"FAILED   {launch}: create: the outcome is unknown") for line in lines
    )
    skipped = '> broadcast launch-show "Launch show": status -> live'
    assert f"skipped  {skipped}: broadcast/launch-show/create failed" in lines
    assert any(line.startswith('done     + broadcast encore-show "Encore show"') for line in lines)
    assert "Apply: 3 done, 1 failed, 1 skipped, 0 held." in first.stdout

    invoke.transport = sim.transport()
    second = invoke("apply", "--yes", manifests)
    assert second.exit_code == 0, second.output
    assert sorted(b["name"] for b in api.list_broadcasts()) == ["Encore show", "Launch show"]
    assert invoke("plan", "--detailed-exitcode", manifests).exit_code == 0


def test_apply_off_a_terminal_needs_yes(sim: Any, invoke: Any, manifests: Path) -> None:
    result = invoke("apply", manifests)
    assert result.exit_code == 1
    assert "stdin is not a terminal" in result.stderr and "--yes" in result.stderr
    assert "Plan: 3 to create" in result.stdout  # the plan is still shown
    assert mutating(sim) == []


def test_apply_on_a_terminal_asks(
    sim: Any, invoke: Any, manifests: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "stdin_is_terminal", lambda: True)
    declined = invoke("apply", manifests, input="n\n")
    assert declined.exit_code == 1
    assert "Apply cancelled; nothing was changed." in declined.stderr
    assert mutating(sim) == []
    accepted = invoke("apply", manifests, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Apply these changes?" in accepted.stderr
    assert "Apply: 5 done" in accepted.stdout


def test_missing_key_stops_with_a_hint(sim: Any, invoke: Any, manifests: Path) -> None:
    for command in ("plan", "apply"):
        result = invoke(command, manifests, env={"GCORE_API_KEY": None})
        assert result.exit_code == 1
        assert "GCORE_API_KEY" in result.stderr and "--simulator" in result.stderr
    assert sim.requests() == []


def test_wrong_key_is_an_error_without_the_key(sim: Any, invoke: Any, manifests: Path) -> None:
    result = invoke("plan", manifests, env={"GCORE_API_KEY": "wrong-key-987654321"})
    assert result.exit_code == 1
    assert "401" in result.stderr
    assert "wrong-key-987654321" not in result.output
    assert "Traceback" not in result.output


def test_bad_client_flag_is_a_clear_error(invoke: Any, manifests: Path) -> None:
    result = invoke("plan", "--rate-limit", "fast", manifests)
    assert result.exit_code == 1
    assert "--rate-limit 'fast'" in result.stderr
    env_result = invoke("plan", manifests, env={"RECONCILER_TIMEOUT": "-1"})
    assert env_result.exit_code == 1 and "RECONCILER_TIMEOUT" in env_result.stderr


def test_a_missing_secret_variable_is_named_in_full(tmp_path: Path) -> None:
    # The problem text is ours and never quotes a secret: nothing in it is masked. (`validate`
    # only warns: tests/manifest/test_manifest_offline.py; plan stops before any request.)
    manifest = tmp_path / "cam.yaml"
    manifest.write_text(
        "kind: Settings\nname: prod\n---\nkind: Stream\nname: cam\n"
        "spec:\n  srt_passphrase: ${CAM_SRT_PASSPHRASE}\n"
    )
    result = CliRunner().invoke(cli.main, ["plan", str(manifest)], env={"CAM_SRT_PASSPHRASE": None})
    assert result.exit_code == 1
    assert result.stderr == (
        f"{manifest}:7: spec.srt_passphrase: environment variable CAM_SRT_PASSPHRASE is not set; "
        "export it (or write $${CAM_SRT_PASSPHRASE} for a literal '${CAM_SRT_PASSPHRASE}')\n"
        "1 problem found\n"
    )
