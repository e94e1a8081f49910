"""Retry policy: which failures are retried for which calls, and how long to wait.

Pure functions over status codes, headers and exception kinds; knows nothing of the calls made.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from enum import StrEnum

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class Failure(StrEnum):
    """What went wrong with one attempt."""

    NOT_SENT = "not_sent"  # connect error / connect or pool timeout: the server saw nothing
    TIMEOUT = "timeout"  # sent, no answer in time: the server may have acted
    DROPPED = "dropped"  # sent, connection broke before a full answer: the server may have acted
    RATE_LIMITED = "rate_limited"  # 429: the server refused before doing anything
    SERVER = "server"  # 5xx or 408: the server may have acted


class Verdict(StrEnum):
    RETRY = "retry"
    GIVE_UP = "give_up"
    AMBIGUOUS = "ambiguous"  # a create that may have been committed: never retried blindly


def failure_for_status(status: int) -> Failure | None:
    if status == 429:
        return Failure.RATE_LIMITED
    if status in RETRYABLE_STATUS or status >= 500:
        return Failure.SERVER
    return None


def decide(failure: Failure, *, create: bool, attempt: int, retries: int) -> Verdict:
    """`attempt` counts from 0. Creates are retried only when the server surely did nothing."""
    if create and failure in (Failure.TIMEOUT, Failure.DROPPED, Failure.SERVER):
        return Verdict.AMBIGUOUS
    return Verdict.RETRY if attempt < retries else Verdict.GIVE_UP


def may_have_acted(failure: Failure) -> bool:
    """True when the attempt may have changed server state (a DELETE's 404 afterwards = done)."""
    return failure in (Failure.TIMEOUT, Failure.DROPPED, Failure.SERVER)


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    ceiling = min(cap, base * (2.0 ** min(attempt, 30)))
    if ceiling <= 0:
        return 0.0
    return (rng or random).uniform(0.0, ceiling)


def retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds the server asked us to wait: `Retry-After-Ms`, else `Retry-After` (seconds or an
    HTTP date, relative to `now` in unix seconds). None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is always GMT
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def wait_for(
    failure: Failure,
    headers: Mapping[str, str],
    *,
    attempt: int,
    base: float,
    cap: float,
    retry_after_max: float,
    now: float,
    rng: random.Random | None = None,
) -> float:
    """How long to wait before the next attempt: the server's word on 429/503, capped, else
    backoff."""
    if failure in (Failure.RATE_LIMITED, Failure.SERVER):
        asked = retry_after(headers, now=now)
        if asked is not None:
            return min(asked, retry_after_max)
    return backoff_delay(attempt, base=base, cap=cap, rng=rng)
