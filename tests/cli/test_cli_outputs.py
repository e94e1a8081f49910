"""Output formats through the real command line: the documented JSON shape, markdown for a PR
comment, and secrets (API key, stream token, push URL keys, srt_passphrase) never printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import __version__

PASSPHRASE = "correct-horse-battery-staple"
SRT_STREAM = """
kind: Stream
name: secure-cam
spec:
  srt_passphrase: ${SRT_PASS}
"""


def test_plan_json_has_the_documented_shape(invoke: Any, manifests: Path) -> None:
    result = invoke("plan", "--output", "json", manifests)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert set(plan) == {"version", "changes", "warnings", "notes", "summary"}
    assert plan["version"] == 1
    assert plan["summary"] == {
        "create": 3,
        "update": 0,
        "delete": 0,
        "actions": 2,
        "held": 0,
        "total": 5,
        "pending": 5,
    }
    first = plan["changes"][0]
    assert set(first) >= {"resource", "key", "action", "id", "title", "diffs", "reason", "held"}
    assert (first["resource"], first["key"], first["action"], first["id"]) == (
        "stream",
        "studio-a",
        "create",
        None,
    )
    launch = next(c for c in plan["changes"] if c["key"] == "launch-show")
    assert launch["streams"] == ["studio-a"]


def test_apply_json_is_one_document_with_plan_and_report(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    result = invoke("apply", "--yes", "-o", "json", manifests)
    assert result.exit_code == 0, result.output
    value = json.loads(result.stdout)
    assert set(value) == {"version", "plan", "results", "summary", "exit_code"}
    assert value["exit_code"] == 0
    assert value["summary"] == {"done": 5, "failed": 0, "skipped": 0, "held": 0}
    assert {r["outcome"] for r in value["results"]} == {"done"}
    assert all(isinstance(r["id"], int) for r in value["results"])
    assert len(value["plan"]["changes"]) == 5


def test_markdown_is_ready_for_a_pull_request(invoke: Any, manifests: Path) -> None:
    result = invoke("plan", "--output", "markdown", manifests)
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("### reconciler plan\n")
    assert "**Plan: 3 to create, 0 to update, 0 to delete, 2 actions, 0 held.**" in text
    assert "| `+` | stream | studio-a | - | create |" in text
    assert "<details><summary>Details</summary>" in text and "</details>" in text


def test_no_changes_reads_plainly_in_every_format(invoke: Any, manifests: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    markdown = invoke("plan", "-o", "markdown", manifests).stdout
    assert "**No changes. The account matches the manifests.**" in markdown
    value = json.loads(invoke("plan", "-o", "json", manifests).stdout)
    assert value["changes"] == [] and value["summary"]["total"] == 0


class LeakyErrors(httpx.BaseTransport):
    """Answers stream PATCHes with a 422 that quotes the stream's push URLs and the key."""

    def __init__(self, inner: httpx.BaseTransport, api_key: str) -> None:
        self.inner, self.api_key = inner, api_key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and "/streaming/streams/" in request.url.path:
            stream = json.loads(
                self.inner.handle_request(
                    httpx.Request("GET", request.url, headers=request.headers)
                ).read()
            )
            errors = {
                "push_url": [f"{stream['push_url']} rejected for APIKey {self.api_key}"],
                "push_url_srt": [f"{stream['push_url_srt']} rejected"],
            }
            return httpx.Response(422, json={"errors": errors})
        return self.inner.handle_request(request)


def test_secrets_never_appear_in_any_output(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    (manifests / "secure.yaml").write_text(SRT_STREAM)
    env = {"SRT_PASS": PASSPHRASE}
    outputs = [invoke("apply", "--yes", manifests, env=env)]
    assert outputs[0].exit_code == 0, outputs[0].output
    tokens = [s["token"] for s in api.list_streams()]
    assert all(len(t) >= 8 for t in tokens)

    # A new passphrase is a diff on a secret field; a rejected PATCH quotes push URLs and the key.
    changed = {"SRT_PASS": "another-passphrase-42"}
    for fmt in ("text", "json", "markdown"):
        outputs.append(invoke("plan", "-o", fmt, manifests, env=changed))
    invoke.transport = LeakyErrors(sim.transport(), sim.config.api_key)
    for fmt in ("text", "json", "markdown"):
        outputs.append(invoke("apply", "--yes", "-o", fmt, manifests, env=changed))
    assert outputs[-1].exit_code == 1

    everything = "\n".join(o.output for o in outputs)
    assert "srt_passphrase" in everything and "push_url" in everything  # they were printed...
    for secret in (PASSPHRASE, "another-passphrase-42", sim.config.api_key, *tokens):
        assert secret not in everything  # ...masked
    assert "?***" in everything and "#***" in everything


def test_schema_and_version(invoke: Any) -> None:
    schema = invoke("schema")
    assert schema.exit_code == 0
    assert isinstance(json.loads(schema.stdout), dict)
    version = invoke("--version")
    assert version.exit_code == 0 and __version__ in version.stdout


def test_embedded_simulator_persists_in_its_file(
    invoke: Any, manifests: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    no_key = {"GCORE_API_KEY": None}
    state = tmp_path / "state" / "sim.sqlite"
    first = invoke("apply", f"--simulator={state}", "--yes", manifests, env=no_key)
    assert first.exit_code == 0, first.output
    assert state.exists()
    again = invoke("plan", f"--simulator={state}", "--detailed-exitcode", manifests, env=no_key)
    assert again.exit_code == 0, again.output
    # `--simulator DIR` (no =): the directory is the manifests, the state file the default one.
    default = invoke("apply", "--simulator", manifests, "--yes", env=no_key)
    assert default.exit_code == 0, default.output
    assert (tmp_path / ".reconciler" / "simulator.sqlite").exists()
