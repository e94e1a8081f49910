"""The lock stream's format: what a lock looks like in the account (name, the JSON in
`client_entity_data`), reading it back, and who a run is. Knows nothing of taking or holding it
(`reconciler.lock.lease` does that).
"""

from __future__ import annotations

import getpass
import json
import math
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.model.marker import LOCK_KEY

LOCK_NAME_PREFIX = "reconciler-lock: "
# The latest expiry a record can carry: 9999-12-31T23:59:59Z, the last second a date can show.
# An expiry beyond it (1e308, Infinity) or unreadable (NaN) is read as this: held, never a crash.
LATEST_EXPIRY = 253402300799.0


@dataclass(frozen=True)
class LockRecord:
    """One lock stream as found in the account."""

    stream_id: int
    set_name: str
    owner: str
    expires_at: float  # unix seconds
    nonce: str
    # Released by its holder after its last write: no longer a lock, but kept in the account as
    # the set's trail (the last apply that wrote), which the next taker replaces. A run that
    # finds the trail it planned against knows no apply of the set wrote since (lock/since.py).
    released: bool = False


def lock_name(set_name: str) -> str:
    return f"{LOCK_NAME_PREFIX}{set_name}"


def lock_record(stream: dict[str, Any]) -> LockRecord | None:
    """The lock carried by a stream, or None (also for any stream that is not a lock)."""
    raw = stream.get("client_entity_data")
    if not isinstance(raw, str) or LOCK_KEY not in raw:
        return None
    try:
        value = json.loads(raw).get(LOCK_KEY)
    except (ValueError, AttributeError, RecursionError):  # RecursionError: nested 1000+ deep
        return None
    if not isinstance(value, dict):
        return None
    set_name, owner = value.get("set"), value.get("owner")
    expires = readable_expiry(value.get("expires_at"))
    if not isinstance(set_name, str) or not isinstance(owner, str) or expires is None:
        return None
    nonce = value.get("nonce")
    released = value.get("released") is True
    return LockRecord(int(stream["id"]), set_name, owner, expires, str(nonce or ""), released)


def readable_expiry(value: Any) -> float | None:
    """A record's `expires_at` as unix seconds within [0, LATEST_EXPIRY]; None if not a number.

    Out of range or NaN reads as the nearest bound, NaN as held (the safe side): another run
    never deletes a lock it cannot date, and `reconciler unlock` can still remove it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isnan(value):
        return LATEST_EXPIRY
    return float(min(max(value, 0), LATEST_EXPIRY))  # compared before float(): 10**400 fits


# Seconds another run waits past a lock's expiry before taking it over. Each run reads the
# platform's clock from `Date` headers (whole seconds, received late), so the holder's reading may
# lag the taker's by about a second: the holder gives its lease up at `expires_at` by its own
# reading, the others only this much later by theirs, so the two never overlap.
TAKEOVER_MARGIN = 2.0


def has_expired(expires_at: float, now: float) -> bool:
    """The holder's expiry rule: its lock is live until `now` reaches `expires_at` (unix
    seconds); past it, the holder never refreshes it again and stops writing."""
    return now >= expires_at


def expired_for_others(expires_at: float, now: float) -> bool:
    """Every other run's expiry rule: another run's lock may be taken over or removed only
    TAKEOVER_MARGIN seconds after the holder itself gives it up."""
    return now >= expires_at + TAKEOVER_MARGIN


def is_lock_stream(stream: dict[str, Any]) -> bool:
    """For planners and cleanup: a lock stream is never a resource to plan or clean up."""
    name = stream.get("name")
    return lock_record(stream) is not None or (
        isinstance(name, str) and name.startswith(LOCK_NAME_PREFIX)
    )


def default_owner() -> str:
    """`user@host pid N`: names a run well enough for a human to find it."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'localhost'} pid {os.getpid()}"


def format_time(unix: float) -> str:
    """`2026-05-28T20:36:40Z`; any float prints (clamped to the years 1970-9999)."""
    clamped = LATEST_EXPIRY if math.isnan(unix) else min(max(unix, 0.0), LATEST_EXPIRY)
    return datetime.fromtimestamp(clamped, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_records(streams: Iterable[dict[str, Any]], set_name: str) -> list[LockRecord]:
    """The set's lock streams, held, expired or released."""
    records = (lock_record(s) for s in streams)
    return [r for r in records if r is not None and r.set_name == set_name]


def lock_fields(
    set_name: str, owner: str, expires_at: int, nonce: str, *, released: bool = False
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "set": set_name,
        "owner": owner,
        "expires_at": expires_at,
        "nonce": nonce,
    }
    if released:
        value["released"] = True
    return {
        "name": lock_name(set_name),
        "active": False,
        "client_entity_data": json.dumps({LOCK_KEY: value}, sort_keys=True),
    }
