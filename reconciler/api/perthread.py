"""One value per calling thread (the client keeps an httpx client per thread), passed on to a
new thread once its thread has ended.

Knows threads only: nothing of HTTP or of the API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    """`get()` is the calling thread's own value. A thread's first call takes the value of a
    thread that has ended, else makes one with `make`: apply's workers end with each apply, and
    the next apply's (in `watch`, every reconcile) keep their connections open instead of making
    new ones (a TLS handshake each). No value is ever used by two live threads. `close()` closes
    all of them."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], None]) -> None:
        self._make = make
        self._close = close
        self._local = threading.local()
        self._lock = threading.Lock()
        self._values: dict[threading.Thread, T] = {}

    def get(self) -> T:
        try:
            value: T = self._local.value
        except AttributeError:
            value = self._add()
        return value

    def _add(self) -> T:
        here = threading.current_thread()
        with self._lock:
            ended = next((thread for thread in self._values if not thread.is_alive()), None)
            if ended is not None:
                value = self._values[here] = self._values.pop(ended)
        if ended is None:
            value = self._make()
            with self._lock:
                self._values[here] = value
        self._local.value = value
        return value

    def close(self) -> None:
        with self._lock:
            values = list(self._values.values())
            self._values.clear()
        for value in values:
            self._close(value)
