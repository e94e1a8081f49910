"""Hostile servers for the client's tests: a raw socket server on loopback that trickles its
answer, and an httpx transport that stands in front of the simulator and lies about some pages.
Both stop by themselves (the server when its `with` block ends; every thread is a daemon).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

TRICKLED_BODY = b"[" + b" " * 400 + b"]"  # a valid empty page, if it ever arrived in full
TRICKLED_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(TRICKLED_BODY)}\r\n\r\n".encode()
    + TRICKLED_BODY
)


class TrickleServer:
    """Answers every request with `TRICKLED_ANSWER`, sending the first `at_once` bytes at once and
    then one byte every `gap` seconds: each read gets a byte well within any read timeout, the
    whole answer takes minutes. Counts the requests it received by method."""

    def __init__(self, *, at_once: int = 0, gap: float = 0.2) -> None:
        self._at_once, self._gap = at_once, gap
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self.methods: list[str] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> TrickleServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            self.methods.append(request.split(b" ", 1)[0].decode())
            try:
                conn.sendall(TRICKLED_ANSWER[: self._at_once])
                for byte in TRICKLED_ANSWER[self._at_once :]:
                    if self._stop.wait(self._gap):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up: that is the point


Handler = Callable[[httpx.Request, Callable[[httpx.Request], httpx.Response]], httpx.Response]


def wrapped(sim: Any, handler: Handler) -> httpx.MockTransport:
    """A transport in front of `sim`: `handler(request, forward)` answers each request, and
    `forward(request)` asks the simulator."""
    inner = sim.transport()

    def forward(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        response.read()
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    return httpx.MockTransport(lambda request: handler(request, forward))


def write_set(root: Path, *, streams: int, broadcasts: int) -> Path:
    """A set `hostile`: `streams` inactive streams, `broadcasts` pending broadcasts spread over
    them (broadcast i on stream i % streams)."""
    root.mkdir(parents=True, exist_ok=True)
    docs = ["kind: Settings\nname: hostile\n"]
    docs += [f"kind: Stream\nname: cam-{i:03d}\nspec:\n  active: false\n" for i in range(streams)]
    docs += [
        f"kind: Broadcast\nname: show-{i:03d}\nspec:\n  status: pending\n"
        f"  streams: [cam-{i % streams:03d}]\n"
        for i in range(broadcasts)
    ]
    (root / "set.yaml").write_text("---\n".join(docs))
    return root


def page_of(request: httpx.Request) -> int:
    return int(request.url.params.get("page", "1"))


def json_answer(value: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(value).encode(), headers=headers)


def chunks(size: int, total: int, counter: list[int]) -> Iterator[bytes]:
    """`total` bytes of a JSON array in chunks of `size`, counting the chunks someone pulled."""
    sent = 0
    while sent < total:
        counter[0] += 1
        chunk = (b"[" if sent == 0 else b"") + b" " * (size - 1)
        sent += len(chunk)
        yield chunk
