"""The lock stream's format: what a lock looks like in the account (name, the JSON in
`client_entity_data`), reading it back, and who a run is. Knows nothing of taking or holding it
(`reconciler.lock.lease` does that).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.model.marker import LOCK_KEY

LOCK_NAME_PREFIX = "reconciler-lock: "


@dataclass(frozen=True)
class LockRecord:
    """One lock stream as found in the account."""

    stream_id: int
    set_name: str
    owner: str
    expires_at: float  # unix seconds
    nonce: str


def lock_name(set_name: str) -> str:
    return f"{LOCK_NAME_PREFIX}{set_name}"


def lock_record(stream: dict[str, Any]) -> LockRecord | None:
    """The lock carried by a stream, or None (also for any stream that is not a lock)."""
    raw = stream.get("client_entity_data")
    if not isinstance(raw, str) or LOCK_KEY not in raw:
        return None
    try:
        value = json.loads(raw).get(LOCK_KEY)
    except (ValueError, AttributeError):
        return None
    if not isinstance(value, dict):
        return None
    set_name, owner, expires = value.get("set"), value.get("owner"), value.get("expires_at")
    if not isinstance(set_name, str) or not isinstance(owner, str):
        return None
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        return None
    nonce = value.get("nonce")
    return LockRecord(int(stream["id"]), set_name, owner, float(expires), str(nonce or ""))


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
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_records(streams: Iterable[dict[str, Any]], set_name: str) -> list[LockRecord]:
    records = (lock_record(s) for s in streams)
    return [r for r in records if r is not None and r.set_name == set_name]


def lock_fields(set_name: str, owner: str, expires_at: int, nonce: str) -> dict[str, Any]:
    value = {"set": set_name, "owner": owner, "expires_at": expires_at, "nonce": nonce}
    return {
        "name": lock_name(set_name),
        "active": False,
        "client_entity_data": json.dumps({LOCK_KEY: value}, sort_keys=True),
    }
