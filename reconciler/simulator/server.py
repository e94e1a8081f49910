"""The simulator behind a real TCP port: a threading `http.server` (HTTP/1.1, keep-alive).

A dropped create (fault) closes the connection without an answer; a connection idle for
`idle_timeout` seconds is closed (each holds a thread); every error, even for a request line it
cannot parse, has the API's JSON shape. `stop()` returns once every connection's handler has
finished, so the caller may close the simulator's state right after. Knows nothing about the API.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.simulator.core import Simulator
from reconciler.simulator.response import json_response

# Seconds a connection may sit idle (or a request take to arrive) before the server closes it.
# Longer than an HTTP client's own keep-alive expiry (httpx: 5 s), so a client never sends on a
# connection the server is closing.
DEFAULT_IDLE_TIMEOUT = 30.0
SIGNAL_CHECK = 0.2  # seconds: how late a signal handed to another thread stops `serve`


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Every read waits at most this long: an idle connection ends with a TimeoutError, which
        # handle_one_request turns into closing the connection.
        self.connection.settimeout(self.server.idle_timeout)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (a garbage request line, a bad version, an overlong line)
        in the API's JSON shape instead of its HTML page."""
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # a status line and headers, whatever was sent
        error = message or self.responses.get(code, ("Error",))[0]
        self._answer(json_response(code, {"status": code, "error": error}), True)

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
        if len(body) < length:  # the client hung up mid-body, or the server is stopping
            self.close_connection = True
            return
        response = simulator.handle(self.command, self.path, dict(self.headers.items()), body)
        if response.drop:
            self.close_connection = True  # committed, but the client never hears back
            return
        self._answer(response, False)

    def _answer(self, response: Any, close: bool) -> None:
        # Not send_response: it would add a `Date` of the real clock; ours is the simulated one.
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
    daemon_threads = True  # a wedged client never keeps the process alive
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 makes the 6th simultaneous connect wait seconds

    def __init__(self, address: tuple[str, int], simulator: Simulator, idle_timeout: float) -> None:
        self.simulator = simulator
        self.idle_timeout = idle_timeout
        # Open connections and their handler threads: socketserver tracks no daemon thread.
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self._open_lock:  # registered before it starts: finish_connections sees it
            self._open[request] = thread
        thread.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)

    def finish_connections(self, timeout: float) -> None:
        """Stop reading from every open connection and wait for its handler: a request being
        answered is answered, an idle keep-alive connection ends at once. Call after shutdown()."""
        with self._open_lock:
            open_now = list(self._open.items())
        for connection, _ in open_now:
            with contextlib.suppress(OSError):  # already closed by its client
                connection.shutdown(socket.SHUT_RD)
        deadline = time.monotonic() + timeout
        for _, thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))

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
        """No new connection, then every open one finished: the simulator may be closed next."""
        self._server.shutdown()
        self._server.finish_connections(timeout=10)
        self._server.server_close()
        self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI's `serve`). The wait wakes every SIGNAL_CHECK seconds:
        a signal the kernel hands to another thread (any thread may get a `kill`) only flags the
        main thread's Python handler, which runs when that thread next runs Python code; an
        untimed join never would, and SIGTERM went unanswered."""
        while self._thread.is_alive():
            self._thread.join(SIGNAL_CHECK)


def start_server(
    simulator: Simulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
) -> ServerHandle:
    if not idle_timeout > 0:
        raise ValueError("idle_timeout must be a positive number of seconds")
    server = _Server((host, port), simulator, idle_timeout)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # stop() returns within a few ms, not half a second
        name="simulator-http",
        daemon=True,
    )
    thread.start()
    return ServerHandle(server, thread)
