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
    """Thread-safe: `observe` every answer; `now()` is the platform's time (None: no Date yet).

    A `Date` has whole seconds, so each answer gives a lower bound of the platform's time
    (`Date` + the monotonic time since it arrived); `now()` is the highest of these bounds: it
    never runs ahead of the platform (an idle age or another run's lease is never judged over
    by us too early), never goes back, and is within a fraction of a second after a few answers.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._origin: datetime | None = None  # platform time at monotonic 0, the highest bound
        self._last_date: tuple[str | None, datetime | None] = (None, None)

    def observe(self, response: httpx.Response) -> None:
        """Called with every answer (`Caller`'s `on_answer`). Only answers from the API count: a
        proxy's error page (its own clock) does not set ours."""
        if response.status_code >= 400:
            return
        text = response.headers.get("date")
        last_text, last_moment = self._last_date  # one tuple: read and replaced atomically
        moment = last_moment if text == last_text else parse_http_date(text)
        self._last_date = (text, moment)  # the answers of one second share their Date: parse once
        if moment is None:
            return
        try:
            origin = moment - timedelta(seconds=self._monotonic())
        except OverflowError:  # a Date near year 1
            return
        with self._lock:
            if self._origin is None or origin > self._origin:
                self._origin = origin

    def now(self) -> datetime | None:
        with self._lock:
            origin = self._origin
        if origin is None:
            return None
        try:
            return origin + timedelta(seconds=self._monotonic())
        except OverflowError:  # a Date near year 9999
            return datetime.max.replace(tzinfo=UTC)


def parse_http_date(value: str | None) -> datetime | None:
    """`Wed, 02 Dec 2026 01:00:00 GMT` -> an aware datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
