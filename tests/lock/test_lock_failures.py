"""The lock when something fails after its stream was created: the run removes its own lock
stream before the error surfaces (else every later run is locked out until the TTL), and never
anyone else's; a stale listing never deletes or trusts another run's lock."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from lock_support import Clock

from reconciler.errors import AmbiguousCreate, AuthError, ServerError, SetLocked, Unreachable
from reconciler.lock.lease import RELEASE_ROUNDS, acquire_lock
from reconciler.lock.record import lock_record
from reconciler.model.marker import LOCK_KEY


def lock_owners(api: Any, set_name: str = "prod") -> list[str]:
    """Owners of the set's locks no run released (released ones stay as the set's trail)."""
    owners = []
    for stream in api.list_streams():
        record = lock_record(stream)
        if record is not None and record.set_name == set_name and not record.released:
            owners.append(record.owner)
    return owners


def server_error(path: str = "/streaming/streams") -> ServerError:
    return ServerError("server error after 5 attempts", method="GET", path=path)


class Flaky:
    """The real client, with scripted failures: `fail_listings` are 1-based listing numbers that
    raise; `lost_creates` are 1-based creates that raise AmbiguousCreate, committed or not."""

    def __init__(
        self,
        api: Any,
        *,
        fail_listings: tuple[int, ...] = (),
        lost_creates: dict[int, bool] | None = None,
        fail_deletes: bool = False,
    ) -> None:
        self._api = api
        self.fail_listings = fail_listings
        self.lost_creates = lost_creates or {}
        self.fail_deletes = fail_deletes
        self.listings = self.creates = 0
        self.deleted: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def list_streams(self) -> list[dict[str, Any]]:
        self.listings += 1
        if self.listings in self.fail_listings:
            raise server_error()
        result: list[dict[str, Any]] = self._api.list_streams()
        return result

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        self.creates += 1
        committed = self.lost_creates.get(self.creates)
        if committed is None:
            created: dict[str, Any] = self._api.create_stream(fields)
            return created
        if committed:
            self._api.create_stream(fields)
        raise AmbiguousCreate("no answer", method="POST", path="/streaming/streams")

    def delete_stream(self, stream_id: int) -> None:
        if self.fail_deletes:
            raise server_error(f"/streaming/streams/{stream_id}")
        self.deleted.append(stream_id)
        self._api.delete_stream(stream_id)


def test_a_failed_confirmation_deletes_the_created_lock_by_its_id(api: Any, sim: Any) -> None:
    flaky = Flaky(api, fail_listings=(2,))
    with pytest.raises(ServerError):
        acquire_lock(flaky, "prod", owner="first", clock=Clock())
    assert lock_owners(api) == []
    assert flaky.listings == 2  # the id came with the create's answer: no listing to find it
    assert sim.counters()["POST /streaming/streams"] == 1
    assert sim.counters()["DELETE /streaming/streams/{id}"] == 1
    with acquire_lock(api, "prod", owner="next", clock=Clock()) as lock:
        assert lock.owner == "next"


def test_a_committed_create_whose_answer_was_lost_is_found_by_nonce_and_deleted(
    api: Any,
) -> None:
    # create 1: committed, answer lost; listing 2 (the confirmation) fails; listing 3 finds it.
    flaky = Flaky(api, fail_listings=(2,), lost_creates={1: True})
    with pytest.raises(ServerError):
        acquire_lock(flaky, "prod", owner="first", clock=Clock())
    assert flaky.listings == 3
    assert lock_owners(api) == []


def test_giving_up_after_unknown_creates_leaves_none_of_them(api: Any) -> None:
    # The first two creates did not commit, the third did: acquire gives up and removes it.
    flaky = Flaky(api, lost_creates={1: False, 2: False, 3: True})
    with pytest.raises(AmbiguousCreate):
        acquire_lock(flaky, "prod", owner="first", clock=Clock())
    assert flaky.creates == 3
    assert lock_owners(api) == []


def test_cleanup_after_a_failure_never_touches_another_runs_lock(api: Any) -> None:
    clock = Clock()
    stale = api.list_streams()  # read before the other run took the lock: shows no lock
    holder = acquire_lock(api, "prod", owner="holder", clock=clock)
    # Our lost create committed; the confirmation fails; the cleanup listing sees both locks.
    flaky = Flaky(api, fail_listings=(1,), lost_creates={1: True})
    with pytest.raises(ServerError):
        acquire_lock(flaky, "prod", owner="second", clock=clock, streams=stale)
    assert lock_owners(api) == ["holder"]
    assert holder.stream_id not in flaky.deleted
    holder.release()


def test_the_original_error_surfaces_when_the_lock_cannot_be_removed(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = Flaky(api, fail_listings=(2,), fail_deletes=True)
    with (
        caplog.at_level(logging.WARNING, "reconciler.lock.lease"),
        pytest.raises(ServerError) as caught,
    ):
        acquire_lock(flaky, "prod", owner="first", clock=Clock())
    assert caught.value.path == "/streaming/streams"  # the listing's error, not the delete's
    assert "could not remove this run's lock stream" in caplog.text
    assert lock_owners(api) == ["first"]  # it will expire on its own


def test_an_interrupt_while_waiting_leaves_no_lock_of_ours(api: Any) -> None:
    clock = Clock()
    holder = acquire_lock(api, "prod", owner="holder", clock=clock)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        acquire_lock(api, "prod", owner="waiter", clock=clock, wait=60, sleep=interrupted)
    assert lock_owners(api) == ["holder"]
    holder.release()


def test_a_stale_listing_never_deletes_a_lock_its_holder_refreshed(api: Any) -> None:
    clock = Clock()
    holder = acquire_lock(api, "prod", owner="holder", clock=clock, ttl=60)
    stale = api.list_streams()  # shows the lock expiring at T0 + 60
    clock.now += 50
    holder.refresh()  # now expires at T0 + 110
    clock.now += 20  # past the expiry the stale listing shows
    with pytest.raises(SetLocked, match="locked by 'holder'"):
        acquire_lock(api, "prod", owner="second", clock=clock, streams=stale)
    assert lock_owners(api) == ["holder"]
    holder.release()


def test_a_stale_listing_showing_a_released_lock_does_not_refuse(api: Any) -> None:
    clock = Clock()
    holder = acquire_lock(api, "prod", owner="holder", clock=clock)
    stale = api.list_streams()
    holder.release()
    with acquire_lock(api, "prod", owner="second", clock=clock, streams=stale) as lock:
        assert lock_owners(api) == ["second"]
        assert lock.owner == "second"


def test_lock_streams_is_read_after_the_lock_was_created(api: Any) -> None:
    plan_read = api.list_streams()
    api.create_stream({"name": "made-after-the-plan"})
    with acquire_lock(api, "prod", owner="me", clock=Clock(), streams=plan_read) as lock:
        names = sorted(s["name"] for s in lock.streams)
        assert names == ["made-after-the-plan", "reconciler-lock: prod"]
        (mine,) = (s for s in lock.streams if s["id"] == lock.stream_id)
        assert json.loads(mine["client_entity_data"])[LOCK_KEY]["owner"] == "me"


def test_a_duplicate_of_our_own_lock_is_removed_when_taking_it(api: Any) -> None:
    # Create 1 committed without an answer and the confirmation did not see it yet: it shows
    # up later beside the one created again. The run keeps the lowest, deletes the other.
    class LateListing(Flaky):
        def list_streams(self) -> list[dict[str, Any]]:
            streams = super().list_streams()
            if self.listings == 2:  # the first committed create is not listed yet
                return [s for s in streams if lock_record(s) is None]
            return streams

    flaky = LateListing(api, lost_creates={1: True})
    with acquire_lock(flaky, "prod", owner="me", clock=Clock()) as lock:
        assert flaky.creates == 2
        assert lock_owners(api) == ["me"]
        assert [s["id"] for s in lock.streams if lock_record(s)] == [lock.stream_id]
    assert lock_owners(api) == []


class FailingUpdates(Flaky):
    """The real client whose first `failures` stream updates raise `error` (the client's own
    retries already spent)."""

    def __init__(self, api: Any, failures: int, error: Exception) -> None:
        super().__init__(api)
        self.failures, self.error, self.updates = failures, error, 0

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> Any:
        self.updates += 1
        if self.updates <= self.failures:
            raise self.error
        return self._api.update_stream(stream_id, fields)


def test_a_release_the_client_gave_up_on_is_asked_for_again(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Two rounds of 5xx: the lock is still released, so the next run is not shut out for a ttl.
    flaky = FailingUpdates(api, 2, ServerError("server error after 5 attempts", status=502))
    lock = acquire_lock(flaky, "prod", owner="first", clock=Clock())
    with caplog.at_level(logging.WARNING, "reconciler.lock.lease"):
        lock.release()
    assert flaky.updates == 3
    assert lock_owners(api) == []
    assert caplog.text == ""
    with acquire_lock(api, "prod", owner="second", clock=Clock()):
        assert lock_owners(api) == ["second"]


def test_a_release_that_keeps_failing_is_logged_and_the_lock_expires(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FailingUpdates(api, 99, ServerError("server error after 5 attempts", status=502))
    lock = acquire_lock(flaky, "prod", owner="first", clock=Clock(), ttl=60)
    with caplog.at_level(logging.WARNING, "reconciler.lock.lease"):
        lock.release()
    assert flaky.updates == RELEASE_ROUNDS
    assert "could not release the lock of set 'prod'" in caplog.text
    assert "it expires at 2026-05-28T20:27:40Z" in caplog.text
    assert lock_owners(api) == ["first"]


def test_a_refused_release_is_not_asked_for_again(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = FailingUpdates(api, 99, AuthError("forbidden", status=403))
    lock = acquire_lock(flaky, "prod", owner="first", clock=Clock())
    with caplog.at_level(logging.WARNING, "reconciler.lock.lease"):
        lock.release()
    assert flaky.updates == 1
    assert "could not release the lock of set 'prod' (forbidden)" in caplog.text


def test_a_release_stops_asking_once_the_lock_expired(api: Any) -> None:
    clock = Clock()

    class SlowlyFailing(FailingUpdates):
        def update_stream(self, stream_id: int, fields: dict[str, Any]) -> Any:
            clock.now += 61  # the client's retries outlived the lock
            return super().update_stream(stream_id, fields)

    slow = SlowlyFailing(api, 99, Unreachable("timed out after 5 attempts"))
    acquire_lock(slow, "prod", owner="first", clock=clock, ttl=60).release()
    assert slow.updates == 1
