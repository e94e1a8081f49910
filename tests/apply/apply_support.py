"""Helpers of the apply tests: manifests of N streams each with one broadcast, a transport that
calls a hook before each request reaches the simulator, and readings of the request log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from reconciler.model.marker import decode_entity_data, encode_entity_data
from tests.conftest import API_KEY

Hook = Callable[[httpx.Request], None]


def paired_set(n: int, *, name: str = "s", active: bool = True) -> str:
    """N streams `cam-i` (active or not), each used by one pending broadcast `show-i`."""
    docs = [f"kind: Settings\nname: {name}\n"]
    for i in range(n):
        docs.append(f"kind: Stream\nname: cam-{i}\nspec:\n  active: {str(active).lower()}\n")
        docs.append(
            f"kind: Broadcast\nname: show-{i}\nspec:\n  name: Show {i}\n  status: pending\n"
            f"  streams: [cam-{i}]\n"
        )
    return "---\n".join(docs)


class Hooked(httpx.BaseTransport):
    """The simulator's transport with `hook(request)` called before each request is answered."""

    def __init__(self, sim: Any, hook: Hook) -> None:
        self.inner = sim.transport()
        self.hook = hook

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.hook(request)
        return self.inner.handle_request(request)


def calls(sim: Any, method: str, path_part: str = "") -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["method"] == method and path_part in r["path"]]


def sent(request: dict[str, Any]) -> dict[str, Any]:
    """The fields a logged request sent (wrapped as the SDK does, or flat)."""
    body: dict[str, Any] = request["body"]
    return body.get("stream") or body.get("broadcast") or body


def markers(api: Any) -> dict[str, Any]:
    """Our key -> (stream, decoded entity data) of every stream carrying a marker."""
    out = {}
    for stream in api.list_streams():
        data = decode_entity_data(stream.get("client_entity_data"))
        if data.marker is not None:
            out[data.marker.key] = (stream, data)
    return out


def human_rewrites_own_keys(sim: Any, sid: int, user: dict[str, Any]) -> None:
    """A person (not apply) rewrites their own keys in stream `sid`'s client_entity_data, straight
    through the simulator's transport: read, change, write; our marker stays as it was."""
    inner = sim.transport()
    url = f"http://simulator.invalid/streaming/streams/{sid}"
    auth = {"Authorization": f"APIKey {API_KEY}"}
    got = inner.handle_request(httpx.Request("GET", url, headers=auth))
    got.read()
    stream = got.json()
    marker = decode_entity_data(stream["client_entity_data"]).marker
    body = {"name": stream["name"], "client_entity_data": encode_entity_data(marker, user)}
    wrote = inner.handle_request(httpx.Request("PATCH", url, headers=auth, json={"stream": body}))
    wrote.read()
    assert wrote.status_code == 200
