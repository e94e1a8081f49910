"""The HTTP endpoint: POST /webhook/<token> (a hint into the queue), /healthz, /readyz and
/metrics. The standard library's threading server: three tiny synchronous routes need no ASGI
stack. The webhook is an attack surface: a wrong token is a 404 before anything else, bodies
are size-capped, only JSON is read, and the token never reaches a log line."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.watch.hints import BadWebhook, Hint, parse_webhook
from reconciler.watch.metrics import CONTENT_TYPE, WatchMetrics
from reconciler.watch.queue import HintQueue, Queued

log = logging.getLogger("reconciler.watch")

MAX_BODY = 64 * 1024
PREFIX = "/webhook/"
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request (slow senders hold a thread)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: dict[str, Any]


@dataclass
class Endpoint:
    """What the handler needs: the token, where hints go, what to count, how ready we are."""

    token: str
    queue: HintQueue
    metrics: WatchMetrics
    readiness: Callable[[], Readiness]

    def token_matches(self, path: str) -> bool:
        if not path.startswith(PREFIX):
            return False
        given = path[len(PREFIX) :].encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self.token.encode())

    def accept(self, hint: Hint | None) -> Queued | None:
        if hint is None:
            self.metrics.hints.labels("ignored").inc()
            return None
        self.metrics.hints.labels(str(hint.kind)).inc()
        queued = self.queue.put(hint)
        if queued is Queued.COALESCED:
            self.metrics.coalesced.inc()
        elif queued is Queued.OVERFLOW:
            self.metrics.overflowed.inc()
        log.info("hint %s: %s", hint, queued,
                 extra={"event": "watch.hint", "fields": {"kind": str(hint.kind), "id": hint.id,
                                                          "queued": str(queued)}})  # fmt: skip
        return queued


def serve(host: str, port: int, endpoint: Endpoint) -> ThreadingHTTPServer:
    """Start serving on a daemon thread; `shutdown()` and `server_close()` stop it."""
    handler = type("Handler", (_Handler,), {"endpoint": endpoint})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="watch-http", daemon=True).start()
    return server


class _Handler(BaseHTTPRequestHandler):
    endpoint: Endpoint
    timeout = REQUEST_TIMEOUT
    server_version = "reconciler-watch"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            state = self.endpoint.readiness()
            body = json.dumps({"ready": state.ready, **state.detail}, sort_keys=True).encode()
            self._send(200 if state.ready else 503, body + b"\n", "application/json")
        elif path == "/metrics":
            self.endpoint.metrics.queue_depth.set(len(self.endpoint.queue))
            self._send(200, self.endpoint.metrics.render(), CONTENT_TYPE)
        else:
            self._refuse(404 if not self.endpoint.token_matches(path) else 405, "not_found")

    def do_POST(self) -> None:
        endpoint = self.endpoint
        if not endpoint.token_matches(self.path):
            return self._refuse(404, "not_found")  # says nothing about the token, reads nothing
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._refuse(411, "no_length")
        if int(length) > MAX_BODY:
            return self._refuse(413, "too_large")
        media = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return self._refuse(415, "not_json")
        try:
            hint = parse_webhook(self.rfile.read(int(length)))
        except BadWebhook as error:
            return self._refuse(400, "malformed", str(error))
        queued = endpoint.accept(hint)
        self._send(202, json.dumps({"hint": queued or "ignored"}).encode(), "application/json")

    def do_PUT(self) -> None:
        self._other_method()

    def do_DELETE(self) -> None:
        self._other_method()

    def do_PATCH(self) -> None:
        self._other_method()

    def _other_method(self) -> None:
        found = self.endpoint.token_matches(self.path)
        self._refuse(405 if found else 404, "method" if found else "not_found")

    def _refuse(self, status: int, reason: str, detail: str = "") -> None:
        self.endpoint.metrics.rejected.labels(reason).inc()
        self.close_connection = True  # an unread body is never parsed as the next request
        self._send(status, (detail or reason.replace("_", " ")).encode() + b"\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line carries the token: log the route only.
        path = self.path.split("?", 1)[0]
        shown = "/webhook/<token>" if path.startswith(PREFIX) else path[:64]
        log.debug("http %s %s -> %s", self.command, shown, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: %s", "server message (request line withheld)")
