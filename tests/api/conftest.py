"""A tiny scripted stand-in for the API behind `httpx.MockTransport`, for client tests that need
exact control of every answer (faults in a given order, odd bodies). The simulator-backed tests
cover the realistic behaviour."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.api.client import ClientSettings, StreamingClient

API_KEY = "secret-key-ABCDEF-0123"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeClock:
    """A monotonic clock that only moves when someone sleeps; records the sleeps."""

    sleeps: list[float] = field(default_factory=list)
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakeAPI:
    page_size: int = 25
    broadcast_body: bool = True
    objects: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {"streams": {}, "broadcasts": {}, "videos": {}}
    )
    log: list[httpx.Request] = field(default_factory=list)
    scripts: list[tuple[str, str, Answer]] = field(default_factory=list)
    next_id: int = 100

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self, sleeps: list[float] | None = None, **settings: Any) -> StreamingClient:
        settings.setdefault("rate_limit", None)
        settings.setdefault("backoff_base", 0.0)
        clock = FakeClock(sleeps if sleeps is not None else [])
        return StreamingClient(
            "https://api.example.test",
            API_KEY,
            transport=self.transport(),
            settings=ClientSettings(**settings),
            sleep=clock.sleep,
            clock=clock,
        )

    def script(self, method: str, path: str, *answers: Answer) -> None:
        """The next requests to `method path` (exact path, query ignored) get these answers."""
        self.scripts.extend((method, path, a) for a in answers)

    def add(self, kind: str, count: int, **fields: Any) -> list[int]:
        ids = []
        for _ in range(count):
            self.next_id += 1
            self.objects[kind][self.next_id] = {"id": self.next_id, "name": f"obj-{self.next_id}"}
            self.objects[kind][self.next_id].update(fields)
            ids.append(self.next_id)
        return ids

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.log]

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.log]

    # -- the handler -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        for i, (method, path, answer) in enumerate(self.scripts):
            if method == request.method and path == request.url.path:
                del self.scripts[i]
                if isinstance(answer, Exception):
                    raise answer
                if callable(answer) and not isinstance(answer, httpx.Response):
                    return answer(request)
                return answer
        return self.default(request)

    def default(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")  # streaming, kind, id?, action?
        kind = parts[1]
        store = self.objects[kind]
        body = json.loads(request.content) if request.content else None
        if len(parts) == 2 and request.method == "GET":
            page = int(request.url.params.get("page", "1"))
            size = int(request.url.params.get("per_page", self.page_size))
            items = [o for _, o in sorted(store.items())]
            sid = request.url.params.get("stream_id")
            if sid is not None:
                items = [o for o in items if o.get("stream_id") == int(sid)]
            return httpx.Response(200, json=items[(page - 1) * size : page * size])
        if len(parts) == 2 and request.method == "POST":
            fields = body.get(kind[:-1], body) if isinstance(body, dict) else {}
            self.next_id += 1
            store[self.next_id] = {**fields, "id": self.next_id}
            if kind == "broadcasts" and not self.broadcast_body:
                return httpx.Response(200)
            return httpx.Response(200, json=store[self.next_id])
        oid = int(parts[2])
        if oid not in store:
            return httpx.Response(404, json={"status": 404, "error": "Not Found"})
        if len(parts) == 4:  # start/stop recording
            return httpx.Response(204)
        if request.method == "GET":
            return httpx.Response(200, json=store[oid])
        if request.method == "PATCH":
            store[oid].update(body[kind[:-1]])
            return httpx.Response(200, json=store[oid])
        if request.method == "DELETE":
            del store[oid]
            return httpx.Response(204)
        return httpx.Response(405)


@pytest.fixture
def fake() -> FakeAPI:
    return FakeAPI()
