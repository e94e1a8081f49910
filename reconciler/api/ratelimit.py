"""One client-side rate limiter shared by every thread of a client.

A token bucket in its "virtual scheduling" form: each caller reserves the next free slot under a
lock, then sleeps outside it, so N threads get N distinct slots and never a burst. A 429 from the
server pauses every caller (`hold`). Knows nothing of HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `rate` acquisitions per second (bursts up to `burst`); `rate=None` = unlimited."""

    def __init__(
        self,
        rate: float | None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = float("-inf")  # theoretical arrival time of the next request
        self._held_until = float("-inf")
        self.waited = 0.0  # total seconds callers spent waiting (for stats)

    def reserve(self) -> float:
        """Reserve a slot; return how long the caller must wait before using it (no sleep)."""
        with self._lock:
            now = self._clock()
            earliest = max(now, self._held_until)
            tat = max(self._next_slot, earliest)
            slot = max(earliest, tat - self._tolerance)
            self._next_slot = tat + self._interval
            delay = slot - now
            self.waited += delay
            return delay

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
        return delay

    def hold(self, seconds: float) -> None:
        """Nobody gets a slot for `seconds` from now (the server said 429 Retry-After)."""
        if seconds <= 0:
            return
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)
