"""The per-set apply lock, kept in the account itself so that runs on different machines (a cron
job, a pipeline) exclude each other with nothing but the API key in common.

The lock is an inactive stream named `reconciler-lock: <set>` whose `client_entity_data` holds
`{"reconciler-lock": {"set", "owner", "expires_at", "nonce"}}`. Taking it: list streams; a live
lock of the set -> wait or LockHeldError; otherwise delete expired locks, create ours, list again,
and the lowest id among live locks wins (a loser deletes its own, and so does a take that
fails midway). Stream ids only grow, so two racing creators always agree on the winner. Uses
only the `StreamingAPI` protocol.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from reconciler.api.platformtime import platform_clock
from reconciler.api.protocol import StreamingAPI
from reconciler.errors import AmbiguousCreate, ApiError, LockLost, NotFoundError, SetLocked
from reconciler.lock.record import (
    LockRecord,
    format_time,
    lock_fields,
    lock_records,
)

log = logging.getLogger("reconciler.lock.lease")

MAX_AMBIGUOUS_CREATES = 3
DEFAULT_TTL = 120.0  # seconds; the holder refreshes it every third while it runs


def acquire_lock(
    api: StreamingAPI,
    set_name: str,
    *,
    owner: str,
    ttl: float = DEFAULT_TTL,
    wait: float = 0,
    poll: float = 5.0,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    streams: Sequence[dict[str, Any]] | None = None,
) -> Lock:
    """Take the set's lock, waiting up to `wait` seconds for a holder; raises LockHeldError.

    `streams`, a recent listing (the plan's read), saves the first sweep when it shows no lock
    of the set: the sweep that confirms our lock decides. A listing that shows one is not
    trusted (the holder may have refreshed or released it since): the streams are listed anew.
    `Lock.streams` is the confirming sweep: one complete listing that started after our lock
    stream was created, in which it is the lowest live lock, so it shows every write made under
    the previous holder's lock (a fresh read for the re-plan).
    If anything fails once we may have created a lock stream, ours are deleted before the error
    propagates (found by id, or by our nonce after an ambiguous create); never another run's.
    Use the result as a context manager: it refreshes itself while held and releases on exit.
    Expiries are written and judged by the platform's clock (`clock`: unix seconds), never this
    machine's: the lease is shared with machines whose clocks may disagree.
    """
    clock = clock or platform_clock(api)
    ours = _Ours(api, set_name, uuid.uuid4().hex[:16])
    try:
        return _acquire(ours, owner, ttl, wait, poll, clock, sleep, streams)
    except BaseException:
        ours.withdraw()
        raise


def _acquire(
    ours: _Ours,
    owner: str,
    ttl: float,
    wait: float,
    poll: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    streams: Sequence[dict[str, Any]] | None,
) -> Lock:
    api, set_name, nonce = ours.api, ours.set_name, ours.nonce
    deadline: float | None = None  # set after the first listing: the platform's time is known
    ambiguous = 0
    # A listing showing a lock of the set is stale evidence: deleting an "expired" lock the
    # holder has refreshed since, or waiting for one it released, would both be wrong.
    known = streams if streams is not None and not lock_records(streams, set_name) else None
    while True:
        listing = list(known) if known is not None else api.list_streams()
        known = None
        records = lock_records(listing, set_name)
        ours.seen(records)
        now = clock()
        live = sorted((r for r in records if r.expires_at > now), key=lambda r: r.stream_id)
        mine = next((r for r in live if r.nonce == nonce), None)
        if not live:
            for stale in records:  # expired: nobody can revive them, deleting is safe
                ours.delete(stale.stream_id)
            expires = math.ceil(clock() + ttl)
            try:
                ours.create(lock_fields(set_name, owner, expires, nonce))
            except AmbiguousCreate:
                ambiguous += 1
                if ambiguous >= MAX_AMBIGUOUS_CREATES:
                    raise
            continue  # list again: confirm we are the lowest live lock
        if mine is not None and live[0] is mine:
            extra = ours.ids - {mine.stream_id}  # a create that was ambiguous, then committed
            for stream_id in sorted(extra):
                ours.delete(stream_id)
            log.info("lock of set %r taken by %r (stream %d)", set_name, owner, mine.stream_id)
            kept = tuple(s for s in listing if int(s["id"]) not in extra)
            return Lock(api, mine, ttl=ttl, clock=clock, streams=kept)
        for stream_id in sorted(ours.ids):  # a lower lock was created at the same time: it wins
            ours.delete(stream_id)
        holder = live[0]
        deadline = deadline if deadline is not None else now + wait
        remaining = deadline - clock()
        if remaining <= 0:
            raise SetLocked(set_name, holder.owner, format_time(holder.expires_at))
        log.info("set %r is locked by %r; waiting up to %.0fs", set_name, holder.owner, remaining)
        sleep(min(poll, remaining))


@dataclass
class _Ours:
    """The lock streams one acquire_lock call created or may have created, so that a failure
    can remove them. Holds only streams carrying our nonce: never another run's lock."""

    api: StreamingAPI
    set_name: str
    nonce: str
    ids: set[int] = field(default_factory=set)
    unsure: bool = False  # a create's outcome is unknown and no listing has settled it yet

    def create(self, fields: dict[str, Any]) -> None:
        self.unsure = True  # until the answer says otherwise (an interrupt leaves it unknown)
        try:
            created = self.api.create_stream(fields)
        except AmbiguousCreate:
            raise
        except ApiError:
            self.unsure = False  # a definite refusal: nothing was created
            raise
        stream_id = created.get("id")
        if isinstance(stream_id, int) and not isinstance(stream_id, bool):
            self.ids.add(stream_id)
            self.unsure = False

    def seen(self, records: Iterable[LockRecord]) -> None:
        """A listing taken after our creates settles which of them exist."""
        self.ids |= {r.stream_id for r in records if r.nonce == self.nonce}
        self.unsure = False

    def delete(self, stream_id: int) -> None:
        _delete_quietly(self.api, stream_id)
        self.ids.discard(stream_id)

    def withdraw(self) -> None:
        """After a failure, best effort: delete our lock streams (each failure is logged)."""
        if self.unsure:
            try:
                self.seen(lock_records(self.api.list_streams(), self.set_name))
            except ApiError as exc:
                log.warning(
                    "could not look for this run's lock of set %r after an unknown create (%s); "
                    "if it was created it expires on its own",
                    self.set_name,
                    exc,
                )
        for stream_id in sorted(self.ids):
            try:
                self.delete(stream_id)
            except ApiError as exc:
                log.warning(
                    "could not remove this run's lock stream %d of set %r (%s); it expires on "
                    "its own, or `reconciler unlock` removes it",
                    stream_id,
                    self.set_name,
                    exc,
                )


def find_locks(api: StreamingAPI, set_name: str) -> list[LockRecord]:
    """The lock streams of the set, expired or not (what `reconciler unlock` shows)."""
    return lock_records(api.list_streams(), set_name)


def break_lock(api: StreamingAPI, set_name: str) -> list[LockRecord]:
    """Delete every lock stream of the set, whoever holds it (an operator's escape hatch)."""
    records = lock_records(api.list_streams(), set_name)
    for record in records:
        _delete_quietly(api, record.stream_id)
    return records


class Lock:
    """A held lock. `with lock:` refreshes it in the background and releases it on exit."""

    def __init__(
        self,
        api: StreamingAPI,
        record: LockRecord,
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
        streams: tuple[dict[str, Any], ...] = (),
    ) -> None:
        self._api = api
        self.streams = streams  # the listing that confirmed the lock (see acquire_lock)
        self.record = record
        self.set_name = record.set_name
        self.owner = record.owner
        self.stream_id = record.stream_id
        self.expires_at = record.expires_at
        self.ttl = ttl
        self._clock = clock
        self._mutex = threading.Lock()
        self._released = False
        self.lost: LockLost | None = None  # set when a refresh found the lock gone
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Lock(set={self.set_name!r}, owner={self.owner!r}, stream={self.stream_id})"

    def refresh(self) -> None:
        """Push the expiry to now + ttl. Raises LockLost if it already expired or is gone."""
        with self._mutex:
            if self._released:
                return
            now = self._clock()
            if now >= self.expires_at:  # someone may have taken it over already: never revive
                self.lost = LockLost(
                    f"the lock of manifest set {self.set_name!r} expired at "
                    f"{format_time(self.expires_at)} before it was refreshed; another run may "
                    "have taken it over"
                )
                raise self.lost
            expires = math.ceil(now + self.ttl)
            fields = lock_fields(self.set_name, self.owner, expires, self.record.nonce)
            try:
                self._api.update_stream(self.stream_id, fields)
            except NotFoundError:
                self.lost = LockLost(
                    f"the lock of manifest set {self.set_name!r} was removed while held; another "
                    "run may have taken it over"
                )
                raise self.lost from None
            self.expires_at = float(expires)

    def check(self) -> None:
        """Raise LockLost if the lock was lost (call between apply stages)."""
        if self.lost is not None:
            raise self.lost

    def release(self) -> None:
        """Delete the lock stream; idempotent. A failure is logged: the lock expires anyway."""
        self.stop_heartbeat()
        with self._mutex:
            if self._released:
                return
            self._released = True
            try:
                self._api.delete_stream(self.stream_id)
            except NotFoundError:
                pass
            except ApiError as exc:
                log.warning(
                    "could not release the lock of set %r (%s); it expires at %s",
                    self.set_name,
                    exc,
                    format_time(self.expires_at),
                )

    # -- heartbeat ---------------------------------------------------------------------------

    def start_heartbeat(self, interval: float | None = None) -> None:
        """Refresh every `interval` seconds (default ttl/3) from a daemon thread."""
        if self._thread is not None:
            return
        every = interval if interval is not None else max(self.ttl / 3, 0.01)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                try:
                    self.refresh()
                except LockLost as exc:
                    log.error("%s", exc)
                    return
                except ApiError as exc:  # transient: try again at the next beat
                    log.warning("could not refresh the lock of set %r: %s", self.set_name, exc)

        self._stop = stop
        self._thread = threading.Thread(target=beat, name="reconciler-lock", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join()
        self._stop = self._thread = None

    @contextlib.contextmanager
    def keep_alive(self, interval: float | None = None) -> Iterator[Lock]:
        """Refresh in the background for the duration of the block (does not release)."""
        self.start_heartbeat(interval)
        try:
            yield self
        finally:
            self.stop_heartbeat()

    def __enter__(self) -> Lock:
        self.start_heartbeat()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _delete_quietly(api: StreamingAPI, stream_id: int) -> None:
    with contextlib.suppress(NotFoundError):
        api.delete_stream(stream_id)
