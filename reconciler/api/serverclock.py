"""The platform's clock as the client sees it: the `Date` header of its answers, carried forward by
the monotonic time elapsed since. Ages and lock leases are judged by it, so a machine whose own
clock is skewed cannot misjudge them. Knows HTTP headers, not what the calls mean.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx


class ServerClock:
    """Thread-safe: `observe` every answer; `now()` is the platform's time (None: no Date yet)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: tuple[datetime, float] | None = None  # (server time, monotonic when seen)

    def observe(self, response: httpx.Response) -> None:
        """An httpx response hook. Only answers from the API count: a proxy's error page (its
        own clock) does not set ours."""
        if response.status_code >= 400:
            return
        moment = parse_http_date(response.headers.get("date"))
        if moment is None:
            return
        with self._lock:
            self._seen = (moment, self._monotonic())

    def now(self) -> datetime | None:
        with self._lock:
            seen = self._seen
        if seen is None:
            return None
        moment, at = seen
        try:
            return moment + timedelta(seconds=max(0.0, self._monotonic() - at))
        except OverflowError:  # a Date near year 9999: keep what the server said
            return moment


def parse_http_date(value: str | None) -> datetime | None:
    """`Wed, 02 Dec 2026 01:00:00 GMT` -> an aware datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
