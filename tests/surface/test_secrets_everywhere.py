"""Secrets never leave the process: with a real-looking key and a stream holding an SRT
passphrase, every command, output format, error and debug log line is searched for the key,
the stream tokens, the key part of push URLs and the passphrase."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Run
from conftest import KEY

PASSPHRASE = "Tr0ub4dor-and-3-more-words"
SRT = "kind: Stream\nname: secure-cam\nspec:\n  active: true\n  srt_passphrase: ${SRT_PASS}\n"


def _echoing(request: httpx.Request, response: httpx.Response | None) -> httpx.Response | None:
    """Every stream-list page fails with a 500 whose body quotes the request's headers and one
    stream of the page (push URLs with their key, token, passphrase): a careless proxy."""
    if response is None or request.url.path != "/streaming/streams" or response.status_code != 200:
        return None
    fields = ("push_url", "push_url_srt", "token", "srt_passphrase")
    leak = {f: response.json()[-1].get(f) for f in fields}
    body = {"detail": f"{json.dumps(leak)} boom for {request.headers['authorization']}"}
    return httpx.Response(500, json=body)


def test_no_secret_in_any_command_format_error_or_log(
    sim: Any, invoke: Any, breaking: Any, manifests: Path, tmp_path: Path
) -> None:
    (manifests / "secure.yaml").write_text(SRT)
    env = {"SRT_PASS": PASSPHRASE, "RECONCILER_LOG": "debug"}
    runs: list[Run] = [invoke("apply", "--yes", manifests, env=env)]
    assert runs[0].exit_code == 0, runs[0].output
    streams = json.loads(
        sim.handle("GET", "/streaming/streams?page=1", {"Authorization": f"APIKey {KEY}"}, b"").body
    )
    secrets = {KEY, PASSPHRASE, "another-Passphrase-99"}
    for stream in streams:
        secrets.add(stream["token"])
        for field in ("push_url", "push_url_srt", "push_url_whip"):
            # rtmp://.../in/<id>?<key>, srt://...#<key>, https://.../whip/<key>
            tail = re.split(r"[?#/]", stream.get(field) or "")[-1]
            if len(tail) >= 8:
                secrets.add(tail)
    assert len(secrets) >= 5

    changed = {**env, "SRT_PASS": "another-Passphrase-99"}  # a diff on the secret field
    out_file = tmp_path / "export.yaml"
    for fmt in ("text", "json", "markdown"):
        runs.append(invoke("plan", "-o", fmt, manifests, env=changed))
        runs.append(invoke("apply", "--yes", "-o", fmt, manifests, env=changed))
    for fmt in ("text", "json"):
        runs.append(invoke("status", "-o", fmt, manifests, env=env))
    runs.append(invoke("export", "--include-unowned", manifests, env=env))
    runs.append(invoke("export", "-f", out_file, manifests, env=env))
    runs.append(invoke("unlock", "--yes", manifests, env=env))
    runs.append(invoke("validate", manifests, env=env))
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs if r.exit_code]

    breaking(_echoing)
    for command in (["plan"], ["apply", "--yes"], ["status"], ["export"], ["unlock", "--yes"]):
        failed = invoke(*command, manifests, env=env)
        assert failed.exit_code == 1 and "GET /streaming/streams" in failed.stderr
        runs.append(failed)
    runs.append(invoke("plan", manifests, env={**env, "GCORE_API_KEY": KEY + "x"}))  # 401

    everything = "\n".join(r.output for r in runs) + out_file.read_text()
    assert "DEBUG" in everything and "srt_passphrase" in everything  # it was all printed...
    assert "push_url" in everything
    for secret in secrets:
        assert secret not in everything, secret  # ...without a secret


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_key_in_the_base_url_never_shows(
    sim: Any, invoke: Any, manifests: Path, fmt: str
) -> None:
    """`https://user:password@proxy/` in GCORE_BASE_URL: an error quoting the URL hides it."""
    url = "http://deploy:hunter2-S3cret@[::1"
    result = invoke("plan", "-o", fmt, manifests, env={"GCORE_BASE_URL": url})
    assert result.exit_code == 1
    assert "hunter2-S3cret" not in result.output
