"""`StreamingClient`: the Gcore Streaming API calls the reconciler makes, over httpx.

Paths, body wrapping exactly as the official SDK sends it, answer shapes, list sweeps. Retries,
rate limit and error mapping live in `transport`; this module never sees an httpx exception.
Knows nothing of manifests, markers or plans: objects are plain JSON dicts.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler.api.deadline import install as install_deadlines
from reconciler.api.pages import DEFAULT_PAGE_SIZE, sweep
from reconciler.api.serverclock import ServerClock
from reconciler.api.settings import ClientSettings
from reconciler.api.transport import Caller, ClientStats
from reconciler.errors import AmbiguousCreate, BadResponse, ConfigError

__all__ = ["ClientSettings", "ClientStats", "StreamingClient"]

Json = dict[str, Any]

VIDEO_PAGE_SIZE = 100  # `per_page` sent when listing videos (streams/broadcasts have no such knob)


class StreamingClient:
    """Implements `reconciler.api.protocol.StreamingAPI`; thread-safe; close it (or use `with`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        settings: ClientSettings = ClientSettings(),  # noqa: B008 - frozen, shared safely
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ConfigError("no API key: set GCORE_API_KEY (or use --simulator)")
        if not api_key.strip().isascii() or not api_key.strip().isprintable():
            raise ConfigError(
                "the API key contains a line break or characters an HTTP header cannot carry: "
                "check GCORE_API_KEY"
            )
        try:
            parts = urlsplit(base_url)
            httpx.URL(base_url)  # a bad port or bracket would otherwise escape as a traceback
        except (ValueError, httpx.InvalidURL):
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"base URL {base_url!r} is not an http(s) URL: check GCORE_BASE_URL "
                "(default https://api.gcore.com)"
            )
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self._server_clock = ServerClock(clock)
        headers = {
            "Authorization": f"APIKey {api_key.strip()}",
            "Accept": "application/json",
            "User-Agent": settings.user_agent,
        }
        verify = _tls_context(parts.scheme)  # one, shared by every thread's client

        def connect() -> httpx.Client:
            http = httpx.Client(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
                # One client per calling thread, which sends one request at a time.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=1),
                transport=transport,
                verify=verify,
                follow_redirects=False,
            )
            install_deadlines(http)  # --timeout bounds a whole request, not each read
            return http

        self._caller = Caller(
            connect,
            settings,
            secret=api_key.strip(),
            on_answer=self._server_clock.observe,
            sleep=sleep,
            clock=clock,
            rng=rng,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Expected size of the next sweep per kind: the manifests' count, then the last sweep's.
        self._expected: dict[str, int] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"StreamingClient({self.base_url!r})"  # never the key

    def __enter__(self) -> StreamingClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._caller.close()

    def stats(self) -> ClientStats:
        return self._caller.stats()

    def server_now(self) -> datetime | None:
        """The platform's time: the latest `Date` header seen plus the time elapsed since."""
        return self._server_clock.now()

    # -- reads -------------------------------------------------------------------------------

    def list_streams(self) -> list[Json]:
        return self._sweep("/streaming/streams", {}, "streams")

    def list_broadcasts(self) -> list[Json]:
        return self._sweep("/streaming/broadcasts", {}, "broadcasts")

    def stream_page(self, page: int) -> list[Json]:
        return self._fetch_page("/streaming/streams", {}, int(page))

    def expect_counts(self, *, streams: int, broadcasts: int) -> None:
        """How many streams and broadcasts the account probably holds (the manifests' counts),
        for the next sweep of each kind; a sweep then expects what the last one found."""
        with self._pool_lock:
            self._expected.update(streams=streams, broadcasts=broadcasts)

    def list_videos(self, *, stream_id: int | None = None) -> list[Json]:
        params: dict[str, Any] = {"per_page": VIDEO_PAGE_SIZE}
        if stream_id is not None:
            params["stream_id"] = int(stream_id)
        return self._sweep("/streaming/videos", params, "videos", page_size=VIDEO_PAGE_SIZE)

    def get_stream(self, stream_id: int) -> Json:
        path = f"/streaming/streams/{int(stream_id)}"
        reply = self._caller.call("GET", path, route="/streaming/streams/{id}")
        return _object(reply.data, "GET", path, fallback_id=int(stream_id))

    def get_broadcast(self, broadcast_id: int) -> Json:
        path = f"/streaming/broadcasts/{int(broadcast_id)}"
        reply = self._caller.call("GET", path, route="/streaming/broadcasts/{id}")
        return _object(reply.data, "GET", path, fallback_id=int(broadcast_id))

    # -- stream writes -----------------------------------------------------------------------

    def create_stream(self, fields: Json) -> Json:
        path = "/streaming/streams"
        reply = self._caller.call(
            "POST", path, route=path, body=dict(fields), create=True, ok=(200, 201)
        )
        if reply.data is None:
            raise AmbiguousCreate(
                "the API answered without the created stream; look for it before creating again",
                method="POST",
                path=path,
                status=reply.status,
            )
        return _object(reply.data, "POST", path)

    def update_stream(self, stream_id: int, fields: Json) -> Json:
        path = f"/streaming/streams/{int(stream_id)}"
        reply = self._caller.call(
            "PATCH",
            path,
            route="/streaming/streams/{id}",
            body={"stream": dict(fields)},
            ok=(200, 204),
        )
        if reply.data is None:  # not in the spec; tolerate it
            return {**fields, "id": int(stream_id)}
        return _object(reply.data, "PATCH", path, fallback_id=int(stream_id))

    def delete_stream(self, stream_id: int) -> None:
        path = f"/streaming/streams/{int(stream_id)}"
        self._caller.call("DELETE", path, route="/streaming/streams/{id}", ok=(200, 204))

    def start_recording(self, stream_id: int) -> None:
        path = f"/streaming/streams/{int(stream_id)}/start_recording"
        route = "/streaming/streams/{id}/start_recording"
        self._caller.call("PUT", path, route=route, ok=(200, 204))

    def stop_recording(self, stream_id: int) -> Json | None:
        path = f"/streaming/streams/{int(stream_id)}/stop_recording"
        route = "/streaming/streams/{id}/stop_recording"
        reply = self._caller.call("PUT", path, route=route, ok=(200, 204))
        if reply.data is None or reply.data == {} or reply.data == []:
            return None  # no recording was running
        return _object(reply.data, "PUT", path)

    # -- broadcast writes --------------------------------------------------------------------

    def create_broadcast(self, fields: Json, *, find_created: bool = True) -> Json:
        path = "/streaming/broadcasts"
        body = {"broadcast": dict(fields)}
        reply = self._caller.call(
            "POST", path, route=path, body=body, create=True, ok=(200, 201, 204)
        )
        if isinstance(reply.data, dict) and reply.data:
            return _object(reply.data, "POST", path)
        if reply.data not in (None, {}):
            _object(reply.data, "POST", path)  # raises BadResponse naming the shape
        if not find_created:
            return {}  # the caller finds it, with the other creates of its batch (one sweep)
        # The official spec answers 200 without a body: find the new broadcast by listing.
        found = _newest_match(self.list_broadcasts(), fields)
        if found is None:
            raise AmbiguousCreate(
                "the API answered without the created broadcast and it is not in the list; look "
                "for it before creating again",
                method="POST",
                path=path,
                status=reply.status,
            )
        return found

    def update_broadcast(self, broadcast_id: int, fields: Json) -> Json:
        path = f"/streaming/broadcasts/{int(broadcast_id)}"
        body = {"broadcast": dict(fields)}
        route = "/streaming/broadcasts/{id}"
        reply = self._caller.call("PATCH", path, route=route, body=body, ok=(200, 204))
        if reply.data is None:
            return {**fields, "id": int(broadcast_id)}
        return _object(reply.data, "PATCH", path, fallback_id=int(broadcast_id))

    def delete_broadcast(self, broadcast_id: int) -> None:
        path = f"/streaming/broadcasts/{int(broadcast_id)}"
        self._caller.call("DELETE", path, route="/streaming/broadcasts/{id}", ok=(200, 204))

    def delete_video(self, video_id: int) -> None:
        path = f"/streaming/videos/{int(video_id)}"
        self._caller.call("DELETE", path, route="/streaming/videos/{id}", ok=(200, 204))

    # -- sweeps ------------------------------------------------------------------------------

    def _sweep(
        self, path: str, params: Mapping[str, Any], what: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> list[Json]:
        found = sweep(
            lambda page: self._fetch_page(path, params, page),
            executor=self._executor(),
            concurrency=self.settings.concurrency,
            page_size=page_size,
            what=what,
            expected=self._expected.get(what, 0) if not params else 0,
        )
        if not params:
            with self._pool_lock:
                self._expected[what] = len(found)
        return found

    def _fetch_page(self, path: str, params: Mapping[str, Any], page: int) -> list[Json]:
        reply = self._caller.call("GET", path, route=path, params={**params, "page": page})
        return _page(reply.data, path, page)

    def _executor(self) -> ThreadPoolExecutor | None:
        if self.settings.concurrency == 1:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.settings.concurrency, thread_name_prefix="reconciler-page"
                )
            return self._pool


def _tls_context(scheme: str) -> ssl.SSLContext:
    """What verifies the API's certificate. Over https, httpx's default (the CA bundle, or the
    environment's SSL_CERT_FILE / SSL_CERT_DIR), loaded once for every thread's client. Over
    plain http nothing is ever verified (a proxy's own TLS is httpcore's business), so the CA
    bundle is not loaded (~40 ms of CPU): an empty context that trusts no certificate stands in,
    and would refuse any TLS connection."""
    if scheme == "https":
        return httpx.create_ssl_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _page(data: Any, path: str, page: int) -> list[Json]:
    where = f"{path}?page={page}"
    if not isinstance(data, list):
        raise BadResponse(
            f"expected a JSON array of objects, got {_shape(data)}", method="GET", path=where
        )
    for item in data:
        if not isinstance(item, dict) or not _is_id(item.get("id")):
            raise BadResponse(
                f"expected objects with an integer id, got {_shape(item)}", method="GET", path=where
            )
    return data


def _object(data: Any, method: str, path: str, *, fallback_id: int | None = None) -> Json:
    """The answer as one object with an integer `id`. The spec's broadcast schema lacks `id`, so a
    known id is filled in where the path names it."""
    if not isinstance(data, dict):
        raise BadResponse(f"expected a JSON object, got {_shape(data)}", method=method, path=path)
    if "id" not in data and fallback_id is not None:
        data = {**data, "id": fallback_id}
    if not _is_id(data.get("id")):
        raise BadResponse("expected an object with an integer id", method=method, path=path)
    result: Json = data
    return result


def _newest_match(broadcasts: list[Json], fields: Json) -> Json | None:
    name = fields.get("name")
    wanted = sorted(int(i) for i in fields.get("stream_ids") or [])
    matches = [
        b
        for b in broadcasts
        if b.get("name") == name and sorted(_ints(b.get("stream_ids"))) == wanted
    ]
    return max(matches, key=lambda b: int(b["id"])) if matches else None


def _ints(value: Any) -> list[int]:
    return [v for v in value if _is_id(v)] if isinstance(value, list) else []


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape(value: Any) -> str:
    if value is None:
        return "an empty body"
    if isinstance(value, dict):
        return "a JSON object" + (" without an integer id" if not _is_id(value.get("id")) else "")
    if isinstance(value, list):
        return f"a JSON array of {len(value)}"
    return f"a JSON {type(value).__name__}"
