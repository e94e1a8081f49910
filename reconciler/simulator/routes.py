"""The Gcore Streaming API surface: method + path template -> a `Platform` call, with query
parameters (pagination, filters) parsed and checked. Answers are JSON text, not re-serialised.

Knows nothing about sockets, auth, faults or the request log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.simulator.render import list_item
from reconciler.simulator.rules import ApiError, Platform, not_found
from reconciler.simulator.validate import INT64_MAX

Json = dict[str, Any]
MAX_PAGE = 2**31 - 1


@dataclass
class Reply:
    status: int
    text: str | None = None  # JSON text of the body; None = empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    platform: Platform
    ids: list[int]
    query: dict[str, str]
    body: Json
    page_size: int


Handler = Callable[[Call], Reply]


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"status": 400, "error": message})


def _int_param(query: dict[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise bad_request(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value


def _page(call: Call) -> int:
    return _int_param(call.query, "page", 1, 1, MAX_PAGE)


def _array(items: list[str]) -> Reply:
    return Reply(200, "[" + ",".join(items) + "]")


# --- streams ------------------------------------------------------------------------------------
def list_streams(call: Call) -> Reply:
    items = call.platform.store.page("streams", _page(call), call.page_size)
    if call.query.get("with_broadcasts") == "1":
        store, expanded = call.platform.store, []
        for text in items:
            stream = json.loads(text)
            bodies = [store.get_body("broadcasts", b) for b in stream["broadcast_ids"]]
            stream["broadcasts"] = [json.loads(b) for b in bodies if b is not None]
            expanded.append(json.dumps(stream))
        items = expanded
    return _array(items)


def stop_recording(call: Call) -> Reply:
    return Reply(200, call.platform.stop_recording(call.ids[0]))  # empty when not recording


def _no_content(action: Callable[[Platform, int], None]) -> Handler:
    def handler(call: Call) -> Reply:
        action(call.platform, call.ids[0])
        return Reply(204)

    return handler


# --- broadcasts and videos ----------------------------------------------------------------------
def list_broadcasts(call: Call) -> Reply:
    return _array(call.platform.store.page("broadcasts", _page(call), call.page_size))


def create_broadcast(call: Call) -> Reply:
    text = call.platform.create_broadcast(call.body)
    if not call.platform.config.broadcast_create_returns_body:
        return Reply(200, None)
    return Reply(200, text)


VIDEO_STATUSES = ("empty", "pending", "viewable", "ready", "error")


def list_videos(call: Call) -> Reply:
    query: dict[str, str] = call.query
    where: dict[str, int | str] = {}
    for name in ("stream_id", "client_user_id"):
        if query.get(name):
            where[name] = _int_param(query, name, None, -INT64_MAX, INT64_MAX)
    if query.get("status"):
        if query["status"] not in VIDEO_STATUSES:
            raise bad_request(f"status must be one of {', '.join(VIDEO_STATUSES)}")
        where["status"] = query["status"]
    per_page = _int_param(query, "per_page", call.page_size, 1, 1000)
    items = call.platform.store.page("videos", _page(call), per_page, where)
    return _array([json.dumps(list_item(json.loads(t))) for t in items])


def spectators(call: Call) -> Reply:
    call.platform.get_broadcast(call.ids[0])
    return Reply(200, '{"spectators_count":0}')


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/streaming/streams", list_streams),
    ("POST", "/streaming/streams", lambda c: Reply(200, c.platform.create_stream(c.body))),
    ("GET", "/streaming/streams/{id}", lambda c: Reply(200, c.platform.get_stream(c.ids[0]))),
    (
        "PATCH",
        "/streaming/streams/{id}",
        lambda c: Reply(200, c.platform.update_stream(c.ids[0], c.body)),
    ),
    ("DELETE", "/streaming/streams/{id}", _no_content(Platform.delete_stream)),
    ("PUT", "/streaming/streams/{id}/start_recording", _no_content(Platform.start_recording)),
    ("PUT", "/streaming/streams/{id}/stop_recording", stop_recording),
    ("PUT", "/streaming/streams/{id}/dvr_cleanup", _no_content(Platform.dvr_cleanup)),
    (
        "POST",
        "/streaming/streams/{id}/reset_push_token",
        lambda c: Reply(200, c.platform.reset_push_token(c.ids[0])),
    ),
    ("GET", "/streaming/broadcasts", list_broadcasts),
    ("POST", "/streaming/broadcasts", create_broadcast),
    (
        "GET",
        "/streaming/broadcasts/{id}",
        lambda c: Reply(200, c.platform.get_broadcast(c.ids[0])),
    ),
    (
        "PATCH",
        "/streaming/broadcasts/{id}",
        lambda c: Reply(200, c.platform.update_broadcast(c.ids[0], c.body)),
    ),
    ("DELETE", "/streaming/broadcasts/{id}", _no_content(Platform.delete_broadcast)),
    ("GET", "/streaming/broadcasts/{id}/spectators", spectators),
    ("GET", "/streaming/videos", list_videos),
    ("GET", "/streaming/videos/{id}", lambda c: Reply(200, c.platform.get_video(c.ids[0]))),
    ("DELETE", "/streaming/videos/{id}", _no_content(Platform.delete_video)),
]

CREATE_ROUTES = {("POST", "/streaming/streams"), ("POST", "/streaming/broadcasts")}
BODY_METHODS = {"POST", "PATCH", "PUT"}

_BY_SHAPE: dict[tuple[str, ...], dict[str, Handler]] = {}
for _method, _template, _handler in ROUTES:
    _BY_SHAPE.setdefault(tuple(_template.strip("/").split("/")), {})[_method] = _handler


def match(path: str) -> tuple[str, list[int], dict[str, Handler]] | None:
    """(template, ids, handlers by method) for a path, or None when no route has its shape."""
    parts = path.strip("/").split("/")
    for shape, handlers in _BY_SHAPE.items():
        if len(shape) != len(parts):
            continue
        ids: list[int] = []
        for want, got in zip(shape, parts, strict=True):
            if want == "{id}":
                if not (got.isascii() and got.isdigit()):
                    break
                ids.append(int(got))
            elif want != got:
                break
        else:
            for obj_id in ids:
                if obj_id > INT64_MAX:
                    raise not_found(shape[1].rstrip("s"), obj_id)
            return "/" + "/".join(shape), ids, handlers
    return None
