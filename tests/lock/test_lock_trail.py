"""The released lock as the set's trail: release leaves it, the next take replaces it, and a take
on the plan's read confirms itself by reading only the listing's end, telling the caller whether
an apply of the set took the lock since that read."""

from __future__ import annotations

import json
from typing import Any

from lock_support import T0

from reconciler.lock.lease import acquire_lock, break_lock, clear_expired, find_locks
from reconciler.lock.record import lock_record, lock_records
from reconciler.model.marker import LOCK_KEY


def clock() -> float:
    return T0


def trail_of(api: Any, set_name: str = "prod") -> list[dict[str, Any]]:
    """The set's lock streams in the account, as stored."""
    return [
        json.loads(s["client_entity_data"])[LOCK_KEY]
        for s in api.list_streams()
        if (r := lock_record(s)) is not None and r.set_name == set_name
    ]


def test_release_leaves_the_lock_stream_released_as_the_sets_trail(api: Any, sim: Any) -> None:
    with acquire_lock(api, "prod", owner="alice", clock=clock) as lock:
        sim.clear_log()
    assert [(e["method"], e["path"]) for e in sim.requests()] == [
        ("PATCH", f"/streaming/streams/{lock.stream_id}")
    ]
    (trail,) = trail_of(api)
    assert trail == {
        "set": "prod",
        "owner": "alice",
        "expires_at": T0,  # expired as well: a version that knows no `released` lets it be
        "nonce": lock.record.nonce,
        "released": True,
    }
    assert api.get_stream(lock.stream_id)["active"] is False
    # No lock is held: nobody waits for it, unlock does not show it, a no-op apply leaves it.
    assert find_locks(api, "prod") == []
    assert break_lock(api, "prod") == []
    assert clear_expired(api, "prod", api.list_streams(), clock=lambda: T0 + 3600) == []
    with acquire_lock(api, "prod", owner="bob", clock=clock):
        pass
    assert [t["owner"] for t in trail_of(api)] == ["bob"]  # alice's trail was replaced


def test_a_take_on_the_plans_read_reads_only_the_listings_end(api: Any, sim: Any) -> None:
    for i in range(60):
        api.create_stream({"name": f"cam-{i}"})
    with acquire_lock(api, "prod", owner="earlier", clock=clock) as earlier:
        pass
    plan_read = api.list_streams()  # 61 streams: page 3 holds 11
    sim.clear_log()
    with acquire_lock(api, "prod", owner="me", clock=clock, streams=plan_read) as lock:
        assert lock.unchanged_since_read
        # Our lock, the listing's end (page 3, now ending with ours; page 4, empty), and the
        # earlier trail deleted once the lock is ours.
        assert [(e["method"], e["path"], e["query"].get("page")) for e in sim.requests()] == [
            ("POST", "/streaming/streams", None),
            ("GET", "/streaming/streams", "3"),
            ("GET", "/streaming/streams", "4"),
            ("DELETE", f"/streaming/streams/{earlier.stream_id}", None),
        ]
        assert earlier.stream_id not in {s["id"] for s in api.list_streams()}
        assert len(lock.streams) == 62  # the read (61) with its end as it was read now (ours)
        assert [r.stream_id for r in lock_records(lock.streams, "prod") if not r.released] == [
            lock.stream_id
        ]


def test_an_apply_of_the_set_between_the_read_and_the_take_is_seen(api: Any, sim: Any) -> None:
    for i in range(60):
        api.create_stream({"name": f"cam-{i}"})
    plan_read = api.list_streams()
    with acquire_lock(api, "prod", owner="other run", clock=clock):
        api.create_stream({"name": "written by the other run"})
    with acquire_lock(api, "prod", owner="me", clock=clock, streams=plan_read) as lock:
        # The other run's trail is newer than the read: it proves an apply came between, so
        # the caller must read again (the listing that confirmed the lock is a full sweep).
        assert not lock.unchanged_since_read
        assert "written by the other run" in {s["name"] for s in lock.streams}


def test_a_held_lock_in_the_plans_read_is_not_taken_on_that_read(api: Any, sim: Any) -> None:
    held = acquire_lock(api, "prod", owner="holder", clock=clock)
    plan_read = api.list_streams()
    held.release()
    sim.clear_log()
    with acquire_lock(api, "prod", owner="me", clock=clock, streams=plan_read) as lock:
        assert not lock.unchanged_since_read
        pages = [e["query"].get("page") for e in sim.requests() if e["method"] == "GET"]
        assert pages[:1] == ["1"]  # swept from page 1: the read's holder may have moved on
