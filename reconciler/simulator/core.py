"""The `Simulator`: one request handler for the Gcore Streaming API and the `/_simulator/` control
API, shared by the in-process httpx transport and the real HTTP server. Owns the lock, the request
log, the counters, fault injection and webhook delivery. Uses `control` and `transport`, which know
it only through their protocols (never the reverse); knows nothing of sockets.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from reconciler.simulator.clock import SimClock
from reconciler.simulator.config import Faults, SimulatorConfig
from reconciler.simulator.control import handle_control
from reconciler.simulator.faults import FaultInjector
from reconciler.simulator.response import JSON_TYPE, Response, json_response
from reconciler.simulator.routes import BODY_METHODS, CREATE_ROUTES, Call, match
from reconciler.simulator.rules import ApiError, Platform
from reconciler.simulator.store import Store
from reconciler.simulator.transport import SimulatorTransport
from reconciler.simulator.webhooks import WebhookSender

Json = dict[str, Any]


@dataclass
class _Outcome:
    """What one API request produced: the answer, its route, what to log, webhooks to send."""

    logged_body: object
    response: Response = field(default_factory=lambda: Response(500))
    template: str = "<unknown>"
    events: list[Json] = field(default_factory=list)


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._store = Store(config.state_path)
        self._clock = SimClock(config.start_time)
        saved_clock = self._store.get_meta("clock")
        if saved_clock is not None:
            self._clock.load(saved_clock)  # a state file continues its own timeline
        self._platform = Platform(self._store, self._clock, config)
        self._faults = FaultInjector(config.faults)
        self._log: list[Json] = []
        self._counters: Counter[str] = Counter()
        self._webhooks = WebhookSender(config.webhook_url, config.webhook_sink)
        self._save_clock()

    # --- the request handler ------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Answer one HTTP request; never raises for bad input. Every answer carries a `Date` of
        the simulated clock, as the platform's carries its own time."""
        response = self._handle(method, target, headers, body)
        date = self.date_header()
        if date:
            response.headers.setdefault("date", date)
        return response

    def date_header(self) -> str:
        """The simulated time as an HTTP `Date` (RFC 9110 IMF-fixdate); '' past year 9999."""
        try:
            return formatdate(self._clock.timestamp(), usegmt=True)
        except (OverflowError, ValueError, OSError):
            return ""

    def _handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        parts = urlsplit(target)
        path, query = parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
        method = method.upper()
        if path.startswith("/_simulator/") or path == "/_simulator":
            return handle_control(self, method, path, body)
        if not path.startswith("/streaming/"):
            return json_response(404, {"status": 404, "error": f"Not Found: {path}"})
        delay = self._faults.latency()
        if delay:
            time.sleep(delay)  # outside the lock: parallel requests overlap as on a network
        headers = {k.lower(): v for k, v in headers.items()}
        outcome = _Outcome(_loggable(body))
        self._api(outcome, method, path, query, headers, body)
        response = outcome.response
        entry: Json = {"method": method, "path": path, "query": query,
                       "status": response.status, "body": outcome.logged_body}  # fmt: skip
        if response.drop:
            entry["dropped"] = True
        with self._lock:
            self._log.append(entry)
            self._counters[f"{method} {outcome.template}"] += 1
        self._webhooks.send(outcome.events)
        return response

    def _api(
        self,
        out: _Outcome,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
    ) -> None:
        """Fill `out` with the answer to one API request; faults first, then auth, then rules."""
        try:
            found = match(path)
        except ApiError as err:  # an id past int64: no such object
            out.response = json_response(err.status, err.body)
            return
        if found is None:
            out.response = json_response(404, {"status": 404, "error": f"Not Found: {path}"})
            return
        out.template, ids, handlers = found
        retry_after = self._faults.throttle()
        if retry_after is not None:
            error = {"status": 429, "error": "Too Many Requests"}
            out.response = json_response(429, error, {"retry-after": str(retry_after)})
            return
        if method not in handlers:
            error = {"status": 405, "error": f"Method Not Allowed: {method} {out.template}"}
            out.response = json_response(405, error, {"allow": ", ".join(sorted(handlers))})
            return
        status = self._faults.server_error()
        if status is not None:
            out.response = json_response(status, {"status": status, "error": "Server Error"})
            return
        if not self._authorized(headers.get("authorization", "")):
            error = {"status": 401, "error": "Unauthorized: send Authorization: APIKey <key>"}
            out.response = json_response(401, error)
            return
        if len(raw) > self.config.max_body_bytes:
            error = {"status": 413, "error": f"body over {self.config.max_body_bytes} bytes"}
            out.response, out.logged_body = json_response(413, error), None
            return
        try:
            data = _parse_body(raw) if method in BODY_METHODS else {}
        except ApiError as err:
            out.response = json_response(err.status, err.body)
            return
        call = Call(self._platform, ids, query, data, self.config.page_size)
        with self._lock:
            try:
                self._platform.tick()
                reply = handlers[method](call)
                self._store.commit()
            except ApiError as err:
                self._store.rollback()  # an error leaves the state unchanged
                self._platform.events = []
                out.response = json_response(err.status, err.body)
                return
            out.events, self._platform.events = self._platform.events, []
        drop = (method, out.template) in CREATE_ROUTES and self._faults.drop_create()
        content = reply.text.encode() if reply.text is not None else b""
        headers_out = dict(JSON_TYPE) if reply.text is not None else {}
        out.response = Response(reply.status, content, headers_out, drop=drop)

    def _authorized(self, header: str) -> bool:
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "apikey":
            return False
        return hmac.compare_digest(key.strip().encode(), self.config.api_key.encode())

    # --- Python surface -----------------------------------------------------------------------
    def transport(self) -> httpx.BaseTransport:
        return SimulatorTransport(self)

    def close(self) -> None:
        with self._lock:
            self._save_clock()
            self._store.commit()
            self._store.close()
        self._webhooks.close()

    def requests(self) -> list[Json]:
        with self._lock:
            return [dict(e) for e in self._log]

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._counters.clear()

    def reset(self) -> None:
        """Empty state, request log, webhook log and faults."""
        with self._lock:
            self._store.clear()
            self._save_clock()
            self._log.clear()
            self._counters.clear()
            self._faults.reset(Faults())
            self._platform.events = []
        self._webhooks.clear()

    def set_faults(self, faults: Faults) -> None:
        self._faults.set(faults)

    def faults(self) -> Faults:
        return self._faults.faults

    def webhooks(self) -> list[Json]:
        return self._webhooks.log()

    def now(self) -> datetime:
        return self._clock.now()

    def connect(self, stream_id: int, backup: bool = False) -> Json:
        """An encoder starts pushing; returns the stream object."""
        return self._control(lambda p: p.connect(stream_id, backup))

    def disconnect(self, stream_id: int, backup: bool = False) -> Json:
        return self._control(lambda p: p.disconnect(stream_id, backup))

    def interrupt(self, stream_id: int, seconds: float, backup: bool = False) -> Json:
        return self._control(lambda p: p.interrupt(stream_id, seconds, backup))

    def advance(self, seconds: float) -> None:
        def run(platform: Platform) -> str:
            self._clock.advance(seconds)
            platform.refresh_recordings()
            platform.tick()
            return "null"

        self._control(run)

    def create_many(self, kind: str, bodies: Iterable[Json]) -> list[int]:
        """Create streams or broadcasts from POST bodies (flat or wrapped), by the rules of a
        POST (validation, quota, links), in one transaction: loads a large account fast. Not in
        the request log or counters, never faulted. Returns the ids in order; all or nothing: a
        refused body raises ValueError naming it and its answer, and nothing is created."""
        creates = {"streams": Platform.create_stream, "broadcasts": Platform.create_broadcast}
        create = creates.get(kind)
        if create is None:
            raise ValueError(f"create_many: kind must be one of {sorted(creates)}, not {kind!r}")
        ids: list[int] = []

        def run(platform: Platform) -> str:
            for body in bodies:
                if not isinstance(body, dict):
                    raise ApiError(400, {"status": 400, "error": "The body must be a JSON object"})
                ids.append(int(json.loads(create(platform, body))["id"]))
            return "null"

        try:
            self._control(run)
        except ApiError as err:
            raise ValueError(
                f"create_many: {kind}[{len(ids)}] refused with {err.status} "
                f"{json.dumps(err.body)}; nothing was created"
            ) from None
        return ids

    def _control(self, action: Callable[[Platform], str]) -> Json:
        """Run a control action under the lock; raises `ApiError` (e.g. 404) unchanged."""
        with self._lock:
            try:
                self._platform.tick()
                text = action(self._platform)
            except ApiError:
                self._store.rollback()
                self._platform.events = []
                raise
            finally:
                self._save_clock()
                self._store.commit()
            events, self._platform.events = self._platform.events, []
        self._webhooks.send(events)
        value: Json = json.loads(text) if text != "null" else {}
        return value

    def _save_clock(self) -> None:
        self._store.set_meta("clock", self._clock.dump())


# Request-log bodies are served by `/_simulator/requests` and printed by tests: a passphrase
# sent to the simulator must not come back out of it (the real API never echoes it either).
SECRET_BODY_FIELDS = frozenset({"srt_passphrase"})
LOG_MASK = "***"
_SECRET_IN_TEXT = re.compile(r'("srt_passphrase"\s*:\s*)"(?:[^"\\]|\\.)*"?')


def _loggable(raw: bytes) -> object:
    """The request body as logged: parsed JSON with secret fields masked, or the start of the
    raw text with any `"srt_passphrase": "..."` masked."""
    if not raw:
        return None
    try:
        return _masked(json.loads(raw))
    except (ValueError, RecursionError):
        text = raw[:2000].decode("utf-8", "replace")
        return _SECRET_IN_TEXT.sub(rf'\1"{LOG_MASK}"', text)


def _masked(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: LOG_MASK if k in SECRET_BODY_FIELDS and v not in (None, "") else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _parse_body(raw: bytes) -> Json:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ApiError(400, {"status": 400, "error": f"Malformed JSON body: {err}"}) from None
    if not isinstance(value, dict):
        raise ApiError(400, {"status": 400, "error": "The body must be a JSON object"})
    return value
