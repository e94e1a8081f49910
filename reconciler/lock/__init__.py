"""The per-set apply lock, stored in the account as a lock stream."""

from reconciler.lock.lease import (
    DEFAULT_TTL,
    MAX_TTL,
    MIN_TTL,
    Lock,
    acquire_lock,
    break_lock,
    clear_expired,
    find_locks,
)
from reconciler.lock.record import default_owner

__all__ = [
    "DEFAULT_TTL",
    "MAX_TTL",
    "MIN_TTL",
    "Lock",
    "acquire_lock",
    "break_lock",
    "clear_expired",
    "default_owner",
    "find_locks",
]
