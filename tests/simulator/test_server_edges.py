"""The served simulator at the edges of HTTP: idle connections are closed after a while (each holds
a thread), and a request it cannot parse gets the API's JSON error shape, never an HTML page."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.simulator import Simulator, start_server
from reconciler.simulator.server import DEFAULT_IDLE_TIMEOUT, ServerHandle

pytestmark = pytest.mark.port


@pytest.fixture
def quick_server(sim: Simulator) -> Iterator[ServerHandle]:
    server = start_server(sim, host="127.0.0.1", port=0, idle_timeout=0.3)
    yield server
    server.stop()


def connect(server: ServerHandle) -> socket.socket:
    raw = socket.create_connection((server.host, server.port))
    raw.settimeout(30)  # generous: the server closes long before
    return raw


def read_all(raw: socket.socket) -> bytes:
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    return data


def test_idle_connections_are_closed_by_the_server(quick_server: ServerHandle) -> None:
    idle = [connect(quick_server) for _ in range(30)]
    for raw in idle:
        with raw:
            assert read_all(raw) == b""  # closed by the server: its thread is free again


def test_a_connection_idle_after_a_request_is_closed_too(quick_server: ServerHandle) -> None:
    with connect(quick_server) as raw:
        raw.sendall(b"GET /streaming/streams HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = read_all(raw)  # the answer, then the close once the connection idles
    assert answer.startswith(b"HTTP/1.1 401 ")


def test_the_default_idle_timeout_outlasts_an_http_client_keep_alive() -> None:
    assert DEFAULT_IDLE_TIMEOUT == 30.0  # httpx drops idle connections after 5 s: no race


def split_answer(data: bytes) -> tuple[str, dict[str, str], Any]:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return status, headers, json.loads(body)


@pytest.mark.parametrize(
    ("request_line", "status", "error"),
    [
        (b"GARBAGE", 400, "Bad request syntax ('GARBAGE')"),
        (b"\x16\x03\x01 TLS hello", 400, "Bad request version ('hello')"),
        (b"GET / HTTP/9.9", 505, "Invalid HTTP version (9.9)"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414, "Request-URI Too Long"),
    ],
)
def test_a_request_it_cannot_parse_gets_the_json_error_shape(
    sim_server: Any, request_line: bytes, status: int, error: str
) -> None:
    with socket.create_connection((sim_server.host, sim_server.port)) as raw:
        raw.settimeout(30)
        raw.sendall(request_line + b"\r\nHost: x\r\n\r\n")
        line, headers, body = split_answer(read_all(raw))
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert body == {"status": status, "error": error}


def test_the_serve_command_has_an_idle_timeout_flag() -> None:
    from click.testing import CliRunner

    from reconciler.simulator.cli import simulator

    result = CliRunner().invoke(simulator, ["serve", "--help"])
    assert "--idle-timeout SECONDS" in result.output
    bad = CliRunner().invoke(simulator, ["serve", "--idle-timeout", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
