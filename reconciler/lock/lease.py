"""The per-set apply lock, kept in the account itself so that runs on different machines (a cron
job, a pipeline) exclude each other with nothing but the API key in common.

The lock is an inactive stream named `reconciler-lock: <set>` whose `client_entity_data` holds
`{"reconciler-lock": {"set", "owner", "expires_at", "nonce"}}`. Taking it: list streams; a live
lock of the set -> wait or LockHeldError; otherwise delete expired locks, create ours, list again,
and the lowest id among live locks wins (a loser deletes its own, and so does a take that
fails midway). Stream ids only grow, so two racing creators always agree on the winner. The take
is bounded: a listing that never shows our new lock stream gives up (LockNotConfirmed).
Holding it: a heartbeat refreshes it while the run makes progress; `check()` says, before each
write, whether it is still ours. Releasing it marks it `released` and leaves it in the account
as the set's trail, which the next taker deletes: a taker that finds nothing newer than the
trail of the read it planned on knows no apply of the set wrote since (`Lock.unchanged_since_read`).
Uses only the `StreamingAPI` protocol.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

from reconciler.api.platformtime import platform_clock
from reconciler.api.protocol import StreamingAPI
from reconciler.errors import (
    AmbiguousCreate,
    ApiError,
    ConfigError,
    LockLost,
    LockNotConfirmed,
    NotFoundError,
    RateLimited,
    ServerError,
    SetLocked,
    Unreachable,
)
from reconciler.lock.record import (
    LockRecord,
    expired_for_others,
    format_time,
    has_expired,
    lock_fields,
    lock_record,
    lock_records,
)
from reconciler.lock.since import listing_since

log = logging.getLogger("reconciler.lock.lease")

MAX_AMBIGUOUS_CREATES = 3
# Listings that may miss the lock stream just created before the take gives up (a listing that
# lags or hides it): each re-lists after a pause; the stream is never created again for it.
MAX_CONFIRMATIONS = 3
CONFIRM_PAUSE = 1.0  # seconds before the 2nd listing, twice that before the 3rd
# Rounds of the client's retries a release gets: each failed round leaves the set shut to every
# run until the lock expires (up to a ttl), so the one write that reopens it is asked for again.
RELEASE_ROUNDS = 3
DEFAULT_TTL = 120.0  # seconds; the holder refreshes it every third while it runs
MIN_TTL, MAX_TTL = 1.0, 86400.0  # a day: a dead run's lock must not shut the set for longer


def check_ttl(ttl: float) -> None:
    """Raises ConfigError unless MIN_TTL <= ttl <= MAX_TTL (NaN and infinities fail too)."""
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise ConfigError(
            f"lock ttl {ttl!r} (--lock-ttl): use a number of seconds from {MIN_TTL:.0f} to "
            f"{MAX_TTL:.0f}"
        )


def _held_by(set_name: str, holder: LockRecord, now: float) -> SetLocked:
    # No run sets an expiry that far ahead (a day of margin for clock skew): an older version
    # or a hand-made record, which only `unlock` ends.
    if holder.expires_at - now > 2 * MAX_TTL:
        advice = (
            f"no run sets an expiry more than {MAX_TTL:.0f} s ahead: if no apply of the set is "
            "running, remove the lock with `reconciler unlock`"
        )
        return SetLocked(set_name, holder.owner, format_time(holder.expires_at), advice=advice)
    return SetLocked(set_name, holder.owner, format_time(holder.expires_at))


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
    of the set but released ones (trails): the listing that confirms our lock decides. A listing
    that shows a held or expired one is not trusted (the holder may have refreshed or released
    it since): the streams are listed anew. The confirming listing is then `streams` with its
    end read again (lock/since.py: the pages from where it ended, a few requests instead of a
    sweep) when that proves complete, else a full sweep. `Lock.streams` is that listing: taken
    after our lock stream was created, in which it is the lowest live lock.
    `Lock.unchanged_since_read` says the confirming listing shows no lock stream of the set
    but ours and the trails `streams` showed: no apply of the set took the lock, so none wrote,
    since `streams` was read, and the caller may plan again on the read it made then.
    If anything fails once we may have created a lock stream, ours are deleted before the error
    propagates (found by id, or by our nonce after an ambiguous create); never another run's.
    A listing that never shows the stream just created (lagging, or hiding it) is re-read
    MAX_CONFIRMATIONS times, then the take gives up with LockNotConfirmed.
    Use the result as a context manager: it refreshes itself while held and releases on exit.
    Expiries are written and judged by the platform's clock (`clock`: unix seconds), never this
    machine's: the lease is shared with machines whose clocks may disagree.
    """
    check_ttl(ttl)
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
    ambiguous = unseen = 0
    waited_for: int | None = None  # the holder's lock stream the last wait was for
    # A listing showing a held or expired lock of the set is stale evidence: deleting an
    # "expired" lock the holder has refreshed since, or waiting for one it released, would both
    # be wrong. A released one (a trail) is never taken up again: its holder is done.
    given = lock_records(streams or (), set_name)
    known = list(streams) if streams is not None and all(r.released for r in given) else None
    earlier = known  # read again at its end only, to confirm the lock taken on it
    trails = {r.stream_id for r in given} if known is not None else set()
    while True:
        listing, known = known, None
        since = False  # the listing is `earlier` brought up to date (not a sweep)
        if listing is None and earlier is not None and ours.ids:
            listing, earlier = listing_since(api.stream_page, earlier), None
            since = listing is not None
        if listing is None:
            listing = api.list_streams()
        records = lock_records(listing, set_name)
        ours.seen(records)
        now = clock()
        live = sorted((r for r in records if _live_for_us(r, nonce, now)), key=_by_id)
        mine = next((r for r in live if r.nonce == nonce), None)
        if not live and ours.ids:  # ours was created, yet this listing does not show it live
            unseen += 1
            if unseen >= MAX_CONFIRMATIONS:
                raise _not_confirmed(ours, unseen)
            if ours.ids - {r.stream_id for r in records}:  # missing: list again, never re-create
                sleep(CONFIRM_PAUSE * unseen)
                continue
        if not live:  # ours, if listed, expired before the listing ended: replaced below
            # Expired: nobody can revive them, deleting is safe. Trails go once the lock is
            # ours: deleting one now would move the listing's end that confirms it.
            for stale in (r for r in records if not r.released):
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
            others = {r.stream_id for r in records if r.nonce != nonce}
            unchanged = since and others <= trails
            _replace_trails(api, [r for r in records if r.released and r.nonce != nonce])
            return Lock(api, mine, ttl=ttl, clock=clock, streams=kept, unchanged=unchanged)
        for stream_id in sorted(ours.ids):  # a lower lock was created at the same time: it wins
            ours.delete(stream_id)
        holder = live[0]
        deadline = deadline if deadline is not None else now + wait
        remaining = deadline - clock()
        if remaining <= 0:
            raise _held_by(set_name, holder, now)
        # Said once per holder where a text run shows it (a wait of minutes must not look hung).
        level = logging.INFO if holder.stream_id == waited_for else logging.WARNING
        waited_for = holder.stream_id
        log.log(
            level,
            "set %r is locked by %r until %s; waiting up to %.0f s for it (--lock-wait)",
            set_name,
            holder.owner,
            format_time(holder.expires_at),
            remaining,
        )
        sleep(min(poll, remaining))


def _replace_trails(api: StreamingAPI, trails: Sequence[LockRecord]) -> None:
    """Delete the trails of earlier applies once the lock is ours: it leaves its own on release.
    A failure only leaves one more trail behind (logged): the next take removes it."""
    for trail in trails:
        try:
            _delete_quietly(api, trail.stream_id)
        except ApiError as exc:
            log.warning("could not remove the released lock stream %d: %s", trail.stream_id, exc)


def _live_for_us(record: LockRecord, nonce: str, now: float) -> bool:
    """Our own lock by the holder's rule, another run's by the others' (with the margin); a
    released one (a trail) is no lock."""
    if record.released:
        return False
    if record.nonce == nonce:
        return not has_expired(record.expires_at, now)
    return not expired_for_others(record.expires_at, now)


def _by_id(record: LockRecord) -> int:
    return record.stream_id


def _not_confirmed(ours: _Ours, listings: int) -> LockNotConfirmed:
    ids = ", ".join(str(i) for i in sorted(ours.ids))
    return LockNotConfirmed(
        f"could not take the lock of manifest set {ours.set_name!r}: the lock stream this run "
        f"created (id {ids}) is not live in {listings} stream listings in a row (missing from "
        "them: the listing lags or hides it; or expired before a listing ended: raise "
        "--lock-ttl), so no listing shows this run holds the lock. It removes its lock stream "
        "and changes nothing"
    )


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
    """The lock streams of the set, expired or not, released ones aside (what `reconciler
    unlock` shows)."""
    return [r for r in lock_records(api.list_streams(), set_name) if not r.released]


def clear_expired(
    api: StreamingAPI,
    set_name: str,
    streams: Sequence[dict[str, Any]],
    *,
    clock: Callable[[], float] = time.time,
) -> list[int]:
    """Delete the set's lock streams that `streams` shows expired, each re-read first (the
    listing may be stale: its holder may have refreshed it since). An expired lock is never
    refreshed again (a holder does not revive it), so deleting it is safe. For an `apply` with
    nothing to do, which takes no lock: a run killed before its release leaves no lock behind
    for good. Failures are logged, never raised. Returns the ids deleted."""
    removed: list[int] = []
    for listed in lock_records(streams, set_name):
        if listed.released or not expired_for_others(listed.expires_at, clock()):
            continue  # a trail stays until the next run that takes the lock replaces it
        try:
            fresh = lock_record(api.get_stream(listed.stream_id))
            if fresh is None or fresh.set_name != set_name or fresh.released:
                continue
            if expired_for_others(fresh.expires_at, clock()):
                _delete_quietly(api, listed.stream_id)
                removed.append(listed.stream_id)
        except NotFoundError:
            continue
        except ApiError as exc:
            log.warning("could not remove the expired lock stream %d: %s", listed.stream_id, exc)
    if removed:
        log.info(
            "removed %d expired lock(s) of set %r left by runs that died", len(removed), set_name
        )
    return removed


def break_lock(api: StreamingAPI, set_name: str) -> list[LockRecord]:
    """Delete every lock stream of the set, whoever holds it (an operator's escape hatch);
    released ones (trails) are no lock and stay."""
    records = find_locks(api, set_name)
    for record in records:
        _delete_quietly(api, record.stream_id)
    return records


class Lock:
    """A held lock. `with lock:` refreshes it in the background and releases it on exit.

    The heartbeat refreshes it only while the run makes progress: a call through `watching(api)`
    answered (or failed) within the last `stall_limit` seconds (default: the ttl). A run stuck
    longer (a hung request) stops refreshing, so its lock expires within one more ttl, and
    `check()` stops the run before its next write if it ever moves again.
    """

    def __init__(
        self,
        api: StreamingAPI,
        record: LockRecord,
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
        streams: tuple[dict[str, Any], ...] = (),
        unchanged: bool = False,
        stall_limit: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self.streams = streams  # the listing that confirmed the lock (see acquire_lock)
        self.unchanged_since_read = unchanged  # see acquire_lock
        self.record = record
        self.set_name = record.set_name
        self.owner = record.owner
        self.stream_id = record.stream_id
        self.expires_at = record.expires_at
        self.ttl = ttl
        self.stall_limit = ttl if stall_limit is None else stall_limit
        self._clock = clock
        self._monotonic = monotonic
        self._last_progress = monotonic()
        self._asking = False  # see asking()
        self.removed = False  # release found the lock stream gone (`reconciler unlock`)
        self._confirmed_at = monotonic()  # the account last said the lock is ours (see confirm)
        self._mutex = threading.Lock()
        self._released = False
        self.lost: LockLost | None = None  # set once the lock is known lost or expired
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Lock(set={self.set_name!r}, owner={self.owner!r}, stream={self.stream_id})"

    # -- progress ----------------------------------------------------------------------------

    def progress(self) -> None:
        """The run moved on (an API call answered): the heartbeat may go on refreshing."""
        self._last_progress = self._monotonic()

    def stalled(self) -> bool:
        """No progress for longer than `stall_limit`: the heartbeat lets the lock expire."""
        if self._asking:
            return False
        return self._monotonic() - self._last_progress > self.stall_limit

    @contextlib.contextmanager
    def asking(self) -> Iterator[None]:
        """While a person is asked to confirm, the run waits on them, it does not hang: the
        heartbeat goes on refreshing, and the answer counts as progress."""
        self._asking = True
        try:
            yield
        finally:
            self._asking = False
            self.progress()

    def watching(self, api: StreamingAPI) -> StreamingAPI:
        """`api` whose every answered call counts as this run's progress."""
        return cast(StreamingAPI, _Watched(api, self.progress))

    # -- holding -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Push the expiry to now + ttl. Raises LockLost if it already expired or is gone."""
        with self._mutex:
            if self._released:
                return
            now = self._clock()
            if has_expired(self.expires_at, now):  # another run may have it now: never revive
                self.lost = self._expired()
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
            self._confirmed_at = self._monotonic()

    def confirm(self, max_age: float) -> None:
        """`check()`, and a refresh now when the account last said the lock is ours more than
        `max_age` seconds ago: a removed lock (`reconciler unlock`) is found before the next
        write instead of at the next heartbeat, a third of the ttl later. For a holder that
        writes now and then (watch); raises LockLost, or ApiError when the refresh failed."""
        self.check()
        if self._monotonic() - self._confirmed_at > max_age:
            self.refresh()

    def check(self) -> None:
        """Raise LockLost if the lock was lost or has expired (call right before each write).

        Reads no account and waits for no refresh in flight: a lost lock is what the heartbeat
        found (removed) or what the clock says (expired)."""
        lost = self.lost
        if lost is None and has_expired(self.expires_at, self._clock()):
            lost = self.lost = self._expired()
        if lost is not None:
            raise lost

    def _expired(self) -> LockLost:
        return LockLost(
            f"the lock of manifest set {self.set_name!r} expired at "
            f"{format_time(self.expires_at)} before it was refreshed; another run may have "
            "taken it over"
        )

    def release(self) -> None:
        """Mark the lock stream released, leaving it as the set's trail (see the module
        docstring); idempotent. A release the client gave up on (5xx, 429, no answer) is tried
        again, up to RELEASE_ROUNDS rounds of the client's retries and never past the expiry: a
        lock left held shuts the set for every run until it expires. A failure is then logged."""
        self.stop_heartbeat()
        with self._mutex:
            if self._released:
                return
            self._released = True
            # Expiring now too: a version that knows no `released` takes it for expired.
            now = min(math.floor(self._clock()), int(self.expires_at))
            trail = lock_fields(self.set_name, self.owner, now, self.record.nonce, released=True)
            failure: ApiError | None = None
            for _ in range(RELEASE_ROUNDS):
                try:
                    self._api.update_stream(self.stream_id, trail)
                    return
                except NotFoundError:  # removed while held: say so, the run may not be alone
                    self.removed = True
                    return
                except (ServerError, RateLimited, Unreachable) as exc:
                    failure = exc
                    if has_expired(self.expires_at, self._clock()):
                        break
                except ApiError as exc:  # refused (key, rights, body): asking again will not help
                    failure = exc
                    break
            log.warning(
                "could not release the lock of set %r (%s); it expires at %s",
                self.set_name,
                failure,
                format_time(self.expires_at),
            )

    # -- heartbeat ---------------------------------------------------------------------------

    def start_heartbeat(self, interval: float | None = None) -> None:
        """Refresh every `interval` seconds (default ttl/3) from a daemon thread, while the run
        makes progress (see the class docstring)."""
        if self._thread is not None:
            return
        every = interval if interval is not None else max(self.ttl / 3, 0.01)
        stop = threading.Event()

        def beat() -> None:
            paused = False
            while not stop.wait(every):
                if self.stalled():
                    if not paused:
                        log.warning(
                            "no progress for over %.0f s (a request hangs?): the lock of set %r "
                            "is not refreshed any more and expires at %s",
                            self.stall_limit,
                            self.set_name,
                            format_time(self.expires_at),
                        )
                    paused = True
                    continue
                paused = False
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
        self.progress()  # taking the lock was progress: the stall clock starts now
        self.start_heartbeat()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _Watched:
    """A StreamingAPI proxy: each call that returns or raises reports progress (any method, so
    it follows the protocol as it grows)."""

    def __init__(self, api: StreamingAPI, on_answer: Callable[[], None]) -> None:
        self._api = api
        self._on_answer = on_answer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._api, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            finally:
                self._on_answer()

        return call


def _delete_quietly(api: StreamingAPI, stream_id: int) -> None:
    with contextlib.suppress(NotFoundError):
        api.delete_stream(stream_id)
