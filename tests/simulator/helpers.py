"""Helpers for simulator tests: an httpx client bound in-process, and a tiny webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx

from reconciler.simulator import Simulator

KEY = "test-key-0123456789"


def client(sim: Simulator, key: str = KEY) -> httpx.Client:
    return httpx.Client(
        base_url="http://sim.invalid",
        transport=sim.transport(),
        headers={"Authorization": f"APIKey {key}"},
    )


def new_stream(c: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = c.post("/streaming/streams", json={"name": "s", **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback HTTP server collecting posted JSON bodies; yields (url, received)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
