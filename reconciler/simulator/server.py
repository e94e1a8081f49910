"""The simulator behind a real TCP port: a threading `http.server` (HTTP/1.1, keep-alive).

A dropped create (fault) closes the connection without an answer. Knows nothing about the API.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.simulator.core import Simulator, json_response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK stalls
    server: _Server

    def _serve(self) -> None:
        simulator = self.server.simulator
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._answer(json_response(411, {"status": 411, "error": "Length Required"}), True)
            return
        try:
            length = int(length_header or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._answer(json_response(400, {"status": 400, "error": "Bad Content-Length"}), True)
            return
        if length > simulator.config.max_body_bytes:
            error = {"status": 413, "error": f"body over {simulator.config.max_body_bytes} bytes"}
            self._answer(json_response(413, error), True)  # the body is not read: close
            return
        body = self.rfile.read(length) if length else b""
        response = simulator.handle(self.command, self.path, dict(self.headers.items()), body)
        if response.drop:
            self.close_connection = True  # committed, but the client never hears back
            return
        self._answer(response, False)

    def _answer(self, response: Any, close: bool) -> None:
        # Not send_response: it would add a `Date` of the real clock; ours is the simulated one.
        self.log_request(response.status)
        self.send_response_only(response.status)
        self.send_header("Server", self.version_string())
        headers = dict(response.headers)
        if not any(name.lower() == "date" for name in headers):
            headers["Date"] = self.server.simulator.date_header() or self.date_time_string()
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # do_GET, do_POST, ... and any other method: the simulator answers 405 with the API's shape
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the simulator keeps its own request log; never echo URLs (they may hold tokens)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away (killed, timed out) is not the server's problem
        super().handle_error(request, client_address)


class ServerHandle:
    """A running server: `url` (http://host:port), `stop()`."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread
        host, port = server.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI's `serve`)."""
        self._thread.join()


def start_server(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
    server = _Server((host, port), simulator)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # stop() returns within a few ms, not half a second
        name="simulator-http",
        daemon=True,
    )
    thread.start()
    return ServerHandle(server, thread)
