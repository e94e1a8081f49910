"""One client-side rate limiter shared by every thread of a client.

A token bucket in its "virtual scheduling" form: each caller reserves the next free slot under a
lock, then sleeps outside it, so N threads get N distinct slots and never a burst. A 429 from the
server pauses every caller (`hold`) and halves the rate for the rest of the run (`slow_down`).
Knows nothing of HTTP.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

SLOWEST = 1.0  # requests/second: 429s never slow a client below this on their own


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
        self._slowed_at = float("-inf")  # when the last 429 halved the rate
        self._recent: deque[float] = deque(maxlen=1000)  # slot times, to measure an unlimited rate
        self.slowed_to: float | None = None  # the rate 429s set, None until they do
        self.waited = 0.0  # total seconds callers spent waiting (for stats)

    def reserve(self) -> float:
        """Reserve a slot; return how long the caller must wait before using it (no sleep)."""
        with self._lock:
            now = self._clock()
            earliest = max(now, self._held_until)
            tat = max(self._next_slot, earliest)
            slot = max(earliest, tat - self._tolerance)
            self._next_slot = tat + self._interval
            self._recent.append(slot)
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

    def slow_down(self, *, sent_at: float) -> float | None:
        """A 429 answered a request sent at `sent_at`: halve the rate for the rest of the run (an
        unlimited limiter starts from the rate it measured over the last second), never below
        `SLOWEST`. 429s to requests sent before the last slow-down were earned by the old rate
        and change nothing. Returns the new rate, or None when nothing changed."""
        with self._lock:
            now = self._clock()
            if sent_at < self._slowed_at:
                return None
            current = self.rate if self.rate is not None else self._measured(now)
            slower = min(current, max(SLOWEST, current / 2))
            self._slowed_at = now
            if self.rate is not None and slower >= self.rate:
                return None
            self.rate, self._interval = slower, 1.0 / slower
            self._tolerance = 0.0  # no bursts once the server has complained
            self.slowed_to = slower
            return slower

    def _measured(self, now: float) -> float:
        """Requests per second over the last second (at least SLOWEST)."""
        recent = sum(1 for slot in self._recent if now - 1.0 < slot <= now)
        return max(SLOWEST, float(recent))
