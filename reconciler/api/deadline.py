"""A total deadline per request: connect, send and the whole answer, however the server trickles.

httpx bounds each socket read, not a request, so a server sending one byte every few seconds never
times out. This wraps httpcore's network backend so that every connect, read and write of the
calling thread waits at most the time left before that thread's deadline. Knows sockets and
httpcore's backend interface, nothing of the API or of retries.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

_current = threading.local()  # the deadline of the request this thread is sending, if any


@dataclass
class Deadline:
    """When the request must be over (monotonic seconds); `expired` once it cut a wait short."""

    until: float
    expired: bool = False


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Every socket operation of this thread inside the block ends by `seconds` from now."""
    state = Deadline(time.monotonic() + seconds)
    previous = getattr(_current, "state", None)
    _current.state = state
    try:
        yield state
    finally:
        _current.state = previous


def install(client: httpx.Client) -> None:
    """Bound every transport of `client` that reaches the network (the default one, and proxies
    from the environment) by the calling thread's deadline. A transport given by a caller (a test's
    in-process simulator) is left alone: it has no socket."""
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore.ConnectionPool):
            pool._network_backend = _DeadlineBackend(pool._network_backend)


def _bounded(timeout: float | None, on_expiry: type[Exception]) -> tuple[float | None, bool]:
    """The timeout to use now, and whether the deadline (not `timeout`) is what bounds it."""
    state: Deadline | None = getattr(_current, "state", None)
    if state is None:
        return timeout, False
    left = state.until - time.monotonic()
    if left <= 0:
        state.expired = True
        raise on_expiry("the request's deadline passed")
    if timeout is None or left < timeout:
        return left, True
    return timeout, False


def _note_expiry(bounded_by_deadline: bool) -> None:
    state: Deadline | None = getattr(_current, "state", None)
    if bounded_by_deadline and state is not None:
        state.expired = True


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        timeout, by_deadline = _bounded(timeout, httpcore.ReadTimeout)
        try:
            return self._inner.read(max_bytes, timeout)
        except httpcore.ReadTimeout:
            _note_expiry(by_deadline)
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        timeout, by_deadline = _bounded(timeout, httpcore.WriteTimeout)
        try:
            self._inner.write(buffer, timeout)
        except httpcore.WriteTimeout:
            _note_expiry(by_deadline)
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout, by_deadline = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))
        except httpcore.ConnectTimeout:
            _note_expiry(by_deadline)
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout, by_deadline = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        except httpcore.ConnectTimeout:
            _note_expiry(by_deadline)
            raise
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout, by_deadline = _bounded(timeout, httpcore.ConnectTimeout)
        try:
            stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        except httpcore.ConnectTimeout:
            _note_expiry(by_deadline)
            raise
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
