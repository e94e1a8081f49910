"""A lock left by a run that died (SIGKILL, a lost machine) goes with the next `apply`, even one
with nothing to do (which takes no lock): before, it stayed in the account until a later run had
changes to make. A stale listing never removes a lock its holder refreshed since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_harness import Invoke
from lock_support import SET, Clock, lock_streams, write_streams

from reconciler.lock.lease import acquire_lock, clear_expired


def test_apply_with_nothing_to_do_removes_a_dead_runs_expired_lock(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 2)
    assert invoke("apply", "--yes", path).exit_code == 0
    dead = acquire_lock(api, SET, owner="killed run", ttl=1, clock=Clock())  # expired long ago
    sim.clear_log()

    result = invoke("apply", "--yes", path)
    assert (result.exit_code, result.stdout) == (
        0,
        "No changes. The account matches the manifests.\n",
    )
    assert lock_streams(api) == []
    calls = [f"{e['method']} {e['path']}" for e in sim.requests()]
    sweeps = ("GET /streaming/streams", "GET /streaming/broadcasts")
    lock = f"/streaming/streams/{dead.stream_id}"
    # The lock stream is read again first, in case its holder refreshed it since the listing.
    assert [c for c in calls if c not in sweeps] == [f"GET {lock}", f"DELETE {lock}"]


def test_a_live_lock_is_left_alone_by_an_apply_with_nothing_to_do(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    invoke = Invoke(sim)
    path = write_streams(tmp_path, 2)
    assert invoke("apply", "--yes", path).exit_code == 0
    with acquire_lock(api, SET, owner="running", ttl=600):
        sim.clear_log()
        assert invoke("apply", "--yes", path).exit_code == 0
        assert [e for e in sim.requests() if e["method"] != "GET"] == []
        assert len(lock_streams(api)) == 1


def test_a_stale_listing_never_clears_a_lock_refreshed_since(api: Any) -> None:
    clock = Clock()
    holder = acquire_lock(api, SET, owner="holder", ttl=60, clock=clock)
    stale = api.list_streams()  # shows the lock expiring at T0 + 60
    clock.now += 50
    holder.refresh()  # now expires at T0 + 110
    clock.now += 20  # past what the stale listing shows
    assert clear_expired(api, SET, stale, clock=clock) == []
    assert [s["id"] for s in lock_streams(api)] == [holder.stream_id]
    clock.now += 60  # really expired now
    assert clear_expired(api, SET, stale, clock=clock) == [holder.stream_id]
    assert lock_streams(api) == []
