"""One value per calling thread, made on first use (the client keeps an httpx client per thread).

Knows threads only: nothing of HTTP or of the API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    """`get()` is the calling thread's own value, made by `make` on its first call. Values of
    threads that have ended are closed when another thread makes one (a pool's threads come and
    go: apply's workers end with each apply); `close()` closes all of them."""

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
        value = self._make()
        with self._lock:
            ended = [thread for thread in self._values if not thread.is_alive()]
            gone = [self._values.pop(thread) for thread in ended]
            self._values[threading.current_thread()] = value
        for old in gone:
            self._close(old)
        self._local.value = value
        return value

    def close(self) -> None:
        with self._lock:
            values = list(self._values.values())
            self._values.clear()
        for value in values:
            self._close(value)
