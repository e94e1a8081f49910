"""The `/_simulator/` control API (not part of Gcore's API, no auth, no faults): encoders, clock,
faults, request log, counters, webhook log, reset. Thin HTTP wrapper over the `Simulator`'s
methods, which it knows only as the `Controls` protocol (below `core`, which imports it).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Protocol

from reconciler.simulator.clock import iso
from reconciler.simulator.config import Faults
from reconciler.simulator.response import Response, json_response
from reconciler.simulator.rules import ApiError

Json = dict[str, Any]

_STREAM_ACTION = re.compile(r"^/_simulator/streams/([0-9]{1,18})/(connect|disconnect|interrupt)$")


class Controls(Protocol):
    """The `Simulator` methods behind the control API; they raise `ApiError` (e.g. 404)."""

    def connect(self, stream_id: int, backup: bool = False) -> Json: ...
    def disconnect(self, stream_id: int, backup: bool = False) -> Json: ...
    def interrupt(self, stream_id: int, seconds: float, backup: bool = False) -> Json: ...
    def advance(self, seconds: float) -> None: ...
    def now(self) -> datetime: ...
    def faults(self) -> Faults: ...
    def set_faults(self, faults: Faults) -> None: ...
    def requests(self) -> list[Json]: ...
    def clear_log(self) -> None: ...
    def counters(self) -> dict[str, int]: ...
    def webhooks(self) -> list[Json]: ...
    def reset(self) -> None: ...


def handle_control(sim: Controls, method: str, path: str, raw: bytes) -> Response:
    try:
        body = _body(raw) if method in ("POST", "PUT") else {}
        action = _STREAM_ACTION.match(path)
        if action and method == "POST":
            stream_id, verb = int(action.group(1)), action.group(2)
            backup = _flag(body, "backup")
            if verb == "interrupt":
                seconds = _seconds(body, default=5.0)
                return json_response(200, sim.interrupt(stream_id, seconds, backup))
            act = sim.connect if verb == "connect" else sim.disconnect
            return json_response(200, act(stream_id, backup))
        key = (method, path.rstrip("/"))
        if key == ("POST", "/_simulator/clock/advance"):
            sim.advance(_seconds(body, default=None))
            return json_response(200, {"now": iso(sim.now().timestamp())})
        if key == ("GET", "/_simulator/clock"):
            return json_response(200, {"now": iso(sim.now().timestamp())})
        if key == ("GET", "/_simulator/faults"):
            return json_response(200, sim.faults().to_json())
        if key == ("PUT", "/_simulator/faults"):
            try:
                sim.set_faults(Faults.from_json(body))
            except ValueError as err:
                return _bad(str(err))
            return json_response(200, sim.faults().to_json())
        if key == ("GET", "/_simulator/requests"):
            return json_response(200, sim.requests())
        if key == ("DELETE", "/_simulator/requests"):
            sim.clear_log()
            return Response(204)
        if key == ("GET", "/_simulator/counters"):
            return json_response(200, sim.counters())
        if key == ("GET", "/_simulator/webhooks"):
            return json_response(200, sim.webhooks())
        if key == ("POST", "/_simulator/reset"):
            sim.reset()
            return Response(204)
        if key == ("GET", "/_simulator/health"):
            return json_response(200, {"ok": True})
        return json_response(404, {"status": 404, "error": f"Not Found: {method} {path}"})
    except ApiError as err:
        return json_response(err.status, err.body)
    except _BadControl as err:
        return _bad(str(err))


class _BadControl(Exception):
    pass


def _bad(message: str) -> Response:
    return json_response(400, {"status": 400, "error": message})


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise _BadControl(f"Malformed JSON body: {err}") from None
    if not isinstance(value, dict):
        raise _BadControl("The body must be a JSON object")
    return value


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise _BadControl(f"{name} must be a boolean")
    return value


def _seconds(body: dict[str, Any], default: float | None) -> float:
    value = body.get("seconds", default)
    if value is None:
        raise _BadControl("seconds is required")
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 10**9:
        raise _BadControl("seconds must be a number between 0 and 1e9")
    return float(value)
