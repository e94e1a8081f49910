"""The per-set lock against the simulator: holders, waiting, expiry, races, heartbeat."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import Any

import pytest
from lock_support import T0, Clock, lock_streams

from reconciler.errors import LockHeldError, LockLost, NotFoundError, SetLocked
from reconciler.lock.lease import Lock, acquire_lock, break_lock
from reconciler.lock.record import TAKEOVER_MARGIN, default_owner, is_lock_stream, lock_record
from reconciler.model.marker import LOCK_KEY


def owner_of(stream: dict[str, Any]) -> str:
    owner: str = json.loads(stream["client_entity_data"])[LOCK_KEY]["owner"]
    return owner


def test_the_lock_is_an_inactive_stream_and_release_ends_it(api: Any) -> None:
    clock = Clock()
    with acquire_lock(api, "prod", owner="alice@laptop pid 1", clock=clock) as lock:
        (stream,) = lock_streams(api, "prod")
        assert stream["id"] == lock.stream_id
        assert stream["name"] == "reconciler-lock: prod"
        assert stream["active"] is False
        value = json.loads(stream["client_entity_data"])[LOCK_KEY]
        assert value["set"] == "prod"
        assert value["owner"] == "alice@laptop pid 1"
        assert value["expires_at"] == T0 + 120  # the default time to live
        assert is_lock_stream(stream)
    assert lock_streams(api, "prod") == []


def test_a_second_owner_is_refused_with_the_holder_named(api: Any) -> None:
    clock = Clock()
    with (
        acquire_lock(api, "prod", owner="ci@runner-7 pid 123", clock=clock),
        pytest.raises(LockHeldError) as caught,
    ):
        acquire_lock(api, "prod", owner="cron@box pid 9", clock=clock)
    assert str(caught.value) == (
        "manifest set 'prod' is locked by 'ci@runner-7 pid 123' until 2026-05-28T20:28:40Z; "
        "another apply is running. Retry later or raise --lock-wait"
    )
    assert isinstance(caught.value, SetLocked)
    assert caught.value.owner == "ci@runner-7 pid 123"


def test_locks_of_other_sets_and_ordinary_streams_do_not_interfere(api: Any) -> None:
    api.create_stream({"name": "reconciler-lock: prod", "client_entity_data": "not json"})
    api.create_stream({"name": "studio", "client_entity_data": '{"reconciler": {}}'})
    clock = Clock()
    with (
        acquire_lock(api, "staging", owner="a", clock=clock),
        acquire_lock(api, "prod", owner="b", clock=clock) as prod,
    ):
        assert lock_record(api.get_stream(prod.stream_id)) is not None


def test_waiting_for_the_holder_to_release(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    holder = acquire_lock(api, "prod", owner="first", clock=clock)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if len(clock.sleeps) == 2:
            holder.release()  # the first run finishes while we wait

    with caplog.at_level(logging.INFO, "reconciler.lock.lease"):
        lock = acquire_lock(api, "prod", owner="second", wait=60, poll=5, clock=clock, sleep=sleep)
    assert clock.sleeps == [5, 5]
    waits = [(r.levelname, r.getMessage()) for r in caplog.records if "waiting" in r.getMessage()]
    # Once where a text run shows it (warning), then quietly; the holder and its expiry named.
    assert waits == [
        (
            level,
            f"set 'prod' is locked by 'first' until 2026-05-28T20:28:40Z; waiting up to {n} s "
            "for it (--lock-wait)",
        )
        for level, n in (("WARNING", 60), ("INFO", 55))
    ]
    assert lock.owner == "second"
    assert [owner_of(s) for s in lock_streams(api, "prod")] == ["second"]
    lock.release()


def test_waiting_gives_up_after_the_wait(api: Any) -> None:
    clock = Clock()
    acquire_lock(api, "prod", owner="first", clock=clock)
    with pytest.raises(SetLocked, match="locked by 'first'"):
        acquire_lock(api, "prod", owner="second", wait=12, poll=5, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [5, 5, 2]


def test_an_expired_lock_is_taken_over_and_its_old_holder_learns_it(api: Any) -> None:
    clock = Clock()
    old = acquire_lock(api, "prod", owner="crashed", ttl=60, clock=clock)
    clock.now += 60  # expired for its holder, not yet for the others (the clocks' margin)
    with pytest.raises(LockLost, match="expired at"):
        old.check()
    with pytest.raises(SetLocked):
        acquire_lock(api, "prod", owner="too early", ttl=60, clock=clock)
    clock.now += TAKEOVER_MARGIN
    new = acquire_lock(api, "prod", owner="fresh", ttl=60, clock=clock)
    assert [owner_of(s) for s in lock_streams(api, "prod")] == ["fresh"]
    assert new.stream_id != old.stream_id
    with pytest.raises(LockLost, match="expired at"):
        old.refresh()  # too late: it must not revive itself
    assert [owner_of(s) for s in lock_streams(api, "prod")] == ["fresh"]
    old.release()  # harmless: its stream is gone already
    assert [owner_of(s) for s in lock_streams(api, "prod")] == ["fresh"]


def test_a_refresh_of_a_removed_lock_is_lost(api: Any) -> None:
    clock = Clock()
    lock = acquire_lock(api, "prod", owner="me", clock=clock)
    assert [r.owner for r in break_lock(api, "prod")] == ["me"]
    with pytest.raises(LockLost, match="removed"):
        lock.refresh()
    with pytest.raises(LockLost):
        lock.check()


def test_refresh_extends_the_expiry_in_the_account(api: Any) -> None:
    clock = Clock()
    lock = acquire_lock(api, "prod", owner="me", ttl=100, clock=clock)
    clock.now += 50
    lock.refresh()
    (stream,) = lock_streams(api, "prod")
    assert json.loads(stream["client_entity_data"])[LOCK_KEY]["expires_at"] == T0 + 150
    assert lock.expires_at == T0 + 150
    lock.release()


class Gate:
    """A StreamingAPI proxy that makes two acquirers create at the same moment."""

    def __init__(self, api: Any, before: threading.Barrier, after: threading.Barrier) -> None:
        self._api, self._before, self._after = api, before, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        self._before.wait(timeout=10)  # both have listed: no lock yet
        try:
            created: dict[str, Any] = self._api.create_stream(fields)
            return created
        finally:
            self._after.wait(timeout=10)  # both have created before either confirms


def test_two_racing_creates_leave_exactly_one_winner(api: Any, sim: Any) -> None:
    before, after = threading.Barrier(2), threading.Barrier(2)
    results: dict[str, Lock | LockHeldError] = {}

    def run(owner: str) -> None:
        try:
            results[owner] = acquire_lock(Gate(api, before, after), "prod", owner=owner)
        except LockHeldError as exc:
            results[owner] = exc

    threads = [threading.Thread(target=run, args=(o,)) for o in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results.values() if isinstance(r, Lock)]
    losers = [r for r in results.values() if isinstance(r, LockHeldError)]
    assert len(winners) == 1 and len(losers) == 1
    assert f"locked by {winners[0].owner!r}" in str(losers[0])
    assert [owner_of(s) for s in lock_streams(api, "prod")] == [winners[0].owner]
    assert sim.counters()["POST /streaming/streams"] == 2
    assert sim.counters()["DELETE /streaming/streams/{id}"] == 1  # the loser removed its own


def test_a_lock_create_whose_answer_is_lost_is_found_not_duplicated(api: Any, sim: Any) -> None:
    from reconciler.simulator import Faults

    sim.set_faults(Faults(drop_create_rate=1.0, seed=3))
    lock = acquire_lock(api, "prod", owner="me", clock=Clock())
    sim.set_faults(Faults())
    assert [s["id"] for s in lock_streams(api, "prod")] == [lock.stream_id]
    assert sim.counters()["POST /streaming/streams"] == 1


def test_the_context_manager_releases_on_error(api: Any) -> None:
    with pytest.raises(RuntimeError), acquire_lock(api, "prod", owner="me", clock=Clock()):
        raise RuntimeError("apply blew up")
    assert lock_streams(api, "prod") == []


def test_the_heartbeat_refreshes_while_held(api: Any, sim: Any) -> None:
    lock = acquire_lock(api, "prod", owner="me", ttl=3.0)
    first_expiry = lock.expires_at
    with lock.keep_alive(interval=0.02):
        deadline = time.monotonic() + 5
        while sim.counters().get("PATCH /streaming/streams/{id}", 0) < 2:
            assert time.monotonic() < deadline, "no refresh happened"
            time.sleep(0.01)
    assert lock.lost is None
    assert lock.expires_at >= first_expiry
    lock.release()
    assert lock_streams(api, "prod") == []


def test_default_owner_names_user_host_and_pid() -> None:
    assert re.fullmatch(r".+@.+ pid \d+", default_owner())


def test_a_recent_listing_saves_the_first_sweep(api: Any, sim: Any) -> None:
    api.create_stream({"name": "studio"})
    listing = api.list_streams()
    sim.clear_log()
    lock = acquire_lock(api, "prod", owner="me", clock=Clock(), streams=listing)
    assert sim.counters() == {"POST /streaming/streams": 1, "GET /streaming/streams": 2}
    # The confirming sweep is handed over for the re-plan: it shows the account after locking.
    assert sorted(s["name"] for s in lock.streams) == ["reconciler-lock: prod", "studio"]
    lock.release()


def test_a_stale_listing_cannot_steal_a_held_lock(api: Any) -> None:
    clock = Clock()
    stale = api.list_streams()  # read before the other run took the lock
    holder = acquire_lock(api, "prod", owner="first", clock=clock)
    with pytest.raises(SetLocked, match="locked by 'first'"):
        acquire_lock(api, "prod", owner="second", clock=clock, streams=stale)
    assert [owner_of(s) for s in lock_streams(api, "prod")] == ["first"]  # ours was removed again
    holder.release()


def test_check_finds_an_expired_lock_lost_by_the_clock_without_a_request(
    api: Any, sim: Any
) -> None:
    clock = Clock()
    lock = acquire_lock(api, "prod", owner="me", ttl=60, clock=clock)
    sim.clear_log()
    clock.now += 59
    lock.check()  # still ours
    clock.now += 1
    with pytest.raises(LockLost, match=r"expired at 2026-05-28T20:27:40Z before it was refreshed"):
        lock.check()
    assert sim.requests() == []  # the check is free: it is asked before every change
    with pytest.raises(LockLost):
        lock.refresh()  # never revived
    assert sim.requests() == []


def test_progress_is_any_answered_call_through_the_watched_client(api: Any) -> None:
    ticks = [0.0]
    lock = Lock(
        api,
        acquire_lock(api, "prod", owner="me", clock=Clock()).record,
        ttl=30,
        monotonic=lambda: ticks[0],
    )
    watched = lock.watching(api)
    ticks[0] = 30.0
    assert not lock.stalled()  # a whole ttl without progress is still allowed
    ticks[0] = 30.5
    assert lock.stalled()
    watched.list_broadcasts()
    assert not lock.stalled()
    ticks[0] = 61.0
    with pytest.raises(NotFoundError):
        watched.get_stream(999)  # an error is an answer too: the run is not stuck
    assert not lock.stalled()
    api.list_streams()  # a call around the watched client (the heartbeat's own) is not progress
    ticks[0] = 91.5
    assert lock.stalled()
