"""API answers that break the spec: a clear error naming the call, exit 1, no traceback, and
nothing written that the run did not mean to write."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def writes(sim: Any) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sim.requests() if e["method"] != "GET"]


def on_list(path: str, make: Callable[[httpx.Response], httpx.Response]) -> Any:
    def rewrite(request: httpx.Request, response: httpx.Response | None) -> httpx.Response | None:
        if response is not None and request.method == "GET" and request.url.path == path:
            return make(response)
        return None

    return rewrite


BROKEN_LISTS = {
    "non-JSON body": lambda r: httpx.Response(200, text="ok, here you go"),
    "HTML 502 page": lambda r: httpx.Response(
        502, text=HTML_502, headers={"content-type": "text/html"}
    ),
    "a page that is an object": lambda r: httpx.Response(200, json={"streams": r.json()}),
    "a stream without id": lambda r: httpx.Response(
        200, json=[{k: v for k, v in s.items() if k != "id"} for s in r.json()] or [{"name": "x"}]
    ),
    "a stream that is a string": lambda r: httpx.Response(200, json=["studio-a"]),
}


@pytest.mark.parametrize("command", ["plan", "apply", "status", "export", "unlock"])
@pytest.mark.parametrize("broken", list(BROKEN_LISTS))
def test_a_broken_stream_list_is_a_clear_error_and_writes_nothing(
    sim: Any, invoke: Any, breaking: Any, manifests: Path, command: str, broken: str
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    before = len(writes(sim))
    breaking(on_list("/streaming/streams", BROKEN_LISTS[broken]))
    args = {"apply": ["apply", "--yes"], "unlock": ["unlock", "--yes"]}.get(command, [command])
    result = invoke(*args, manifests)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: ")
    assert "/streaming/streams" in result.stderr, result.stderr
    assert writes(sim)[before:] == []


def test_an_html_502_is_retried_then_named_without_the_page(
    sim: Any, invoke: Any, breaking: Any, manifests: Path
) -> None:
    breaking(on_list("/streaming/broadcasts", BROKEN_LISTS["HTML 502 page"]))
    result = invoke("plan", "--retries", "1", manifests)
    assert result.exit_code == 1
    assert "GET /streaming/broadcasts" in result.stderr and "502" in result.stderr
    assert "<html>" not in result.stderr and "after 2 attempts" in result.stderr
    assert "an HTML page (502 Bad Gateway)" in result.stderr


def test_a_404_for_an_object_we_hold_fails_that_change_only(
    sim: Any, invoke: Any, breaking: Any, manifests: Path
) -> None:
    """The stream vanished between the read and the write: the PATCH fails with the API's 404,
    named with the stream; the run exits 1 and the next run converges."""
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (manifests / "streams.yaml").write_text(
        (manifests / "streams.yaml").read_text().replace("dvr_enabled: true", "dvr_enabled: false")
    )

    def vanish(request: httpx.Request, response: httpx.Response | None) -> httpx.Response | None:
        lock = b"reconciler-lock" in request.content  # the lock's own stream did not vanish
        if request.method == "PATCH" and request.url.path.startswith("/streaming/streams/"):
            return None if lock else httpx.Response(404, json={"error": "stream not found"})
        return None

    planned = json.loads(invoke("plan", "-o", "json", manifests).stdout)["changes"]
    assert [(c["key"], c["action"]) for c in planned] == [("studio-a", "update")]
    sid = planned[0]["id"]
    before = len(writes(sim))
    breaking(vanish)
    result = invoke("apply", "--yes", manifests)
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == [
        f'FAILED   ~ stream studio-a "Studio A" (id {sid}): update: '
        f"PATCH /streaming/streams/{sid} -> 404: not found: stream not found"
    ]
    # The lock's create, the first run's trail deleted, the release; nothing else.
    assert [w.split(" ")[0] for w in writes(sim)[before:]] == ["POST", "DELETE", "PATCH"]
    breaking(lambda request, response: None)
    assert invoke("apply", "--yes", manifests).exit_code == 0
    assert invoke("plan", "--detailed-exitcode", manifests).exit_code == 0
