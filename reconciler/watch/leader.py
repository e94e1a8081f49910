"""Who acts: the replica holding the set's lock in the account, kept as a renewed lease (the
lock's own heartbeat refreshes it every third of its ttl). The others try again every few
seconds and take over within one ttl of the leader's death. No consensus beyond the lock."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import ApiError, LockLost, SetLocked
from reconciler.lock.lease import Lock, acquire_lock

log = logging.getLogger("reconciler.watch")
# A write starts only if the account said the lease is ours within this many seconds (else one
# refresh first): a lease removed by `reconciler unlock` stops the next write, not one 40 s on.
CONFIRM_AGE = 2.0


class Leadership:
    def __init__(
        self,
        api: StreamingAPI,
        owner: str,
        ttl: float,
        *,
        retry: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.owner = owner
        self.ttl = ttl
        self.retry = retry if retry is not None else min(5.0, max(ttl / 3, 0.5))
        self._clock = clock
        self._lock: Lock | None = None
        self._set_name: str | None = None
        self._next_try = 0.0
        self.holder: str | None = None  # who leads when it is not us (for /readyz)

    @property
    def leading(self) -> bool:
        return self._lock is not None and self._lock.lost is None

    def ensure(self, set_name: str) -> bool:
        """True while we hold the lease; tries to take it when due. Raises ApiError only from
        a read; a lock held by another replica is the normal answer of a follower."""
        if self._lock is not None and (self._lock.lost is not None or set_name != self._set_name):
            if self._lock.lost is not None:
                log.error("lease lost: %s; following until it can be taken again", self._lock.lost)
            self.release()
        if self._lock is not None:
            return True
        now = self._clock()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry
        try:
            lock = acquire_lock(self.api, set_name, owner=self.owner, ttl=self.ttl, wait=0)
        except SetLocked as held:
            # Who leads, as a follower says it (SetLocked's advice is for `apply`).
            holder = f"{held.owner!r} leads set {held.set_name!r} (its lease runs to {held.until})"
            if self.holder != holder:
                log.info("following: %s", holder)
            self.holder = holder
            return False
        lock.progress()  # taking it was progress: the stall clock starts now
        lock.start_heartbeat()
        self._lock, self._set_name, self.holder = lock, set_name, None
        log.info("leading set %r (lease stream %d, ttl %gs)", set_name, lock.stream_id, self.ttl)
        return True

    def alive(self) -> None:
        """The loop moved on: the lease's heartbeat may go on refreshing (a loop stuck longer
        than the ttl, in a hung request say, lets the lease expire: see reconciler.lock)."""
        if self._lock is not None:
            self._lock.progress()

    def watched(self, api: StreamingAPI) -> StreamingAPI:
        """`api` whose answers count as progress while we lead (a long resync keeps the lease)."""
        return self._lock.watching(api) if self._lock is not None else api

    def write_refusal(self) -> str | None:
        """Why a write must not start now (we do not hold the lease, it was lost, or it could
        not be confirmed: see CONFIRM_AGE), or None. Asked right before each change starts."""
        lock = self._lock
        if lock is None:
            return "this replica does not hold the lease"
        try:
            lock.confirm(CONFIRM_AGE)
        except LockLost as lost:
            return f"the lease was lost: {lost}"
        except ApiError as error:
            return f"the lease could not be confirmed: {error}"
        return None

    def release(self) -> None:
        """Give the lease back (a clean stop, or a lost one's heartbeat to end)."""
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            lock.release()
        except ApiError as error:  # it expires on its own
            log.warning("could not release the lease: %s", error)
