"""The bounded queue of hints, keyed by object: a burst for one object is one entry (coalesced),
and past the capacity nothing more is kept but a flag asking for a full resync (which covers
every object). Memory stays flat under a flood. Knows nothing of HTTP or the API."""

from __future__ import annotations

import threading
from collections import OrderedDict
from enum import StrEnum

from reconciler.watch.hints import Hint

DEFAULT_CAPACITY = 1024


class Queued(StrEnum):
    QUEUED = "queued"
    COALESCED = "coalesced"  # already waiting: one reconcile will cover both
    OVERFLOW = "overflow"  # full: not kept; the next full resync covers it


class HintQueue:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._waiting: OrderedDict[Hint, None] = OrderedDict()
        self._overflowed = False
        self._ready = threading.Condition()

    def put(self, hint: Hint) -> Queued:
        with self._ready:
            if hint in self._waiting:
                return Queued.COALESCED
            if len(self._waiting) >= self.capacity:
                self._overflowed = True
                self._ready.notify()
                return Queued.OVERFLOW
            self._waiting[hint] = None
            self._ready.notify()
            return Queued.QUEUED

    def get(self, timeout: float) -> Hint | None:
        """The oldest waiting hint, or None after `timeout` seconds (or on an overflow)."""
        with self._ready:
            if not self._waiting and not self._overflowed:
                self._ready.wait(timeout)
            if not self._waiting:
                return None
            hint, _ = self._waiting.popitem(last=False)
            return hint

    def take_overflow(self) -> bool:
        """True once after hints were turned away (the caller then runs a full resync)."""
        with self._ready:
            overflowed, self._overflowed = self._overflowed, False
            return overflowed

    def clear(self) -> int:
        """Forget every waiting hint (a full resync covers them); how many there were."""
        with self._ready:
            count = len(self._waiting)
            self._waiting.clear()
            return count

    def __len__(self) -> int:
        with self._ready:
            return len(self._waiting)
