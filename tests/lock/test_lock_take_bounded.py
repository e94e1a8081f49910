"""Taking the lock when the stream listing never shows the lock stream just created (issue 9,
item 9): a bounded number of listings, never another create, every stream it created removed,
exit 1 with a message. Before, it created lock streams in a loop (4,342 in 60 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke
from lock_support import SET, Clock, HidingLocks, lock_streams, write_streams

from reconciler.errors import LockNotConfirmed
from reconciler.lock.lease import MAX_CONFIRMATIONS, acquire_lock
from reconciler.lock.record import lock_record


class HidingListing:
    """The real client, except that its stream listings never show a lock stream."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.listings = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def list_streams(self) -> list[dict[str, Any]]:
        self.listings += 1
        return [s for s in self._api.list_streams() if lock_record(s) is None]


def test_a_lock_never_listed_is_created_once_then_removed(api: Any, sim: Any) -> None:
    hiding, clock = HidingListing(api), Clock()
    with pytest.raises(LockNotConfirmed) as caught:
        acquire_lock(hiding, SET, owner="me", clock=clock, sleep=clock.sleep)
    assert sim.counters()["POST /streaming/streams"] == 1
    (deleted,) = [e["path"] for e in sim.requests() if e["method"] == "DELETE"]
    assert hiding.listings == 1 + MAX_CONFIRMATIONS  # the first look, then the confirmations
    assert clock.sleeps == [1.0, 2.0]  # a lagging listing gets a moment to catch up
    assert lock_streams(api) == []
    assert str(caught.value).startswith(
        f"could not take the lock of manifest set '{SET}': the lock stream this run created "
        f"(id {deleted.rsplit('/', 1)[1]}) is not live in 3 stream listings in a row"
    )


def test_a_listing_that_lags_once_confirms_the_same_stream(api: Any, sim: Any) -> None:
    class LagsOnce(HidingListing):
        def list_streams(self) -> list[dict[str, Any]]:
            if self.listings >= 2:  # the second listing after the create shows it
                self.listings += 1
                result: list[dict[str, Any]] = self._api.list_streams()
                return result
            return super().list_streams()

    clock = Clock()
    with acquire_lock(LagsOnce(api), SET, owner="me", clock=clock, sleep=clock.sleep) as lock:
        assert [int(s["id"]) for s in lock_streams(api)] == [lock.stream_id]
    assert sim.counters()["POST /streaming/streams"] == 1  # waited for it, never made another
    assert clock.sleeps == [1.0]


def test_apply_behind_a_listing_that_hides_locks_exits_1_and_leaves_no_lock(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    invoke.transport = HidingLocks(sim.transport())
    path = write_streams(tmp_path, 3)
    result = invoke("apply", "--yes", path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"error: could not take the lock of manifest set '{SET}': " in result.stderr
    assert "It removes its lock stream and changes nothing" in result.stderr
    writes = [(e["method"], e["path"]) for e in sim.requests() if e["method"] != "GET"]
    (create, delete) = writes  # one lock stream created, the same one deleted: nothing else
    assert create == ("POST", "/streaming/streams")
    assert delete[0] == "DELETE"
    assert lock_streams(api) == [] and api.list_streams() == []
