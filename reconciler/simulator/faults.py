"""Decides, per API request, which configured fault strikes: rate limit (token bucket on real
time), a 5xx without side effects, or a create whose response is lost after the commit.

Deterministic for a given seed and request order. Knows nothing about HTTP or state.
"""

from __future__ import annotations

import math
import random
import threading
import time

from reconciler.simulator.config import Faults

ERROR_STATUSES = (500, 502, 503)


class FaultInjector:
    """Thread-safe; `reset` forgets the dice and the bucket."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._seed = faults.seed
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Apply new faults. The dice are re-seeded only by a new seed, so switching faults off
        and back on (a test reading the account calmly) continues the same sequence."""
        with self._lock:
            self.faults = faults
            if faults.seed is not None and faults.seed != self._seed:
                self._rng = random.Random(faults.seed)
                self._seed = faults.seed
            rate = faults.rate_limit_rps
            self._capacity = max(1.0, rate) if rate else 0.0
            self._tokens = self._capacity
            self._last = time.monotonic()

    def reset(self, faults: Faults) -> None:
        with self._lock:
            self._rng = random.Random(faults.seed)
            self._seed = faults.seed
        self.set(faults)

    def latency(self) -> float:
        """Seconds to sleep before answering (outside any lock, so requests overlap)."""
        return self.faults.latency_ms / 1000.0

    def throttle(self) -> int | None:
        """None when the request may pass, else the Retry-After seconds for a 429."""
        rate = self.faults.rate_limit_rps
        if not rate:
            return None
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - self._tokens) / rate))

    def server_error(self) -> int | None:
        """A 5xx status to answer instead of handling the request, or None."""
        with self._lock:
            if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
                return self._rng.choice(ERROR_STATUSES)
            return None

    def drop_create(self) -> bool:
        with self._lock:
            rate = self.faults.drop_create_rate
            return bool(rate) and self._rng.random() < rate
