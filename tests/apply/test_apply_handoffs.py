"""Issue 12, CPU of 10,000 deletes: what apply's threads hand each other per change, pinned as
call counts (never timed). Changes go to long-lived workers through one queue (no future per
change), and a broadcast delete takes no lock that every worker shares: not the marker book's
(each stream's bookkeeping runs under that stream's lock), not the stage's count of a stream's
editors (a stream only one change edits needs none), not LiveState's `cached_property` lock
(one per class in Python 3.11) in the live re-check. Eight workers contending for such a lock
several times per change formed lock convoys that cost up to twice the bookkeeping's CPU."""

from __future__ import annotations

import concurrent.futures
import threading
from collections import Counter
from typing import Any

import pytest

import reconciler.apply.markers as markers_module
import reconciler.apply.stagemarks as stagemarks_module
from reconciler.apply.scheduler import apply_plan
from reconciler.model.changes import Action, Change, Outcome, Plan, Resource, Stage
from reconciler.model.desired import DesiredState, Settings
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data
from reconciler.safety.guards import live_rule

SET = "demo"
N = 200
WORKERS = 8
live_hold = live_rule(DesiredState(Settings(SET), {}, {}))  # every broadcast here is pruned


class Stub:
    """A StreamingAPI answering at once; records (thread, method, object id) of each call."""

    def __init__(self, streams: list[dict[str, Any]]) -> None:
        self.streams = {s["id"]: s for s in streams}
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, int]] = []

    def _record(self, method: str, object_id: int) -> None:
        with self.lock:
            self.calls.append((threading.current_thread().name, method, object_id))

    def get_stream(self, stream_id: int) -> dict[str, Any]:
        self._record("GET", stream_id)
        return dict(self.streams[stream_id])

    def delete_broadcast(self, broadcast_id: int) -> None:
        self._record("DELETE", broadcast_id)

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        self._record("PATCH", stream_id)
        self.streams[stream_id] = {**self.streams[stream_id], **fields}
        return dict(self.streams[stream_id])


def live_deletes(n: int) -> tuple[LiveState, Plan, Stub]:
    """n live broadcasts, each recorded in the marker of its own stream, all deleted."""
    streams, broadcasts = [], []
    for i in range(1, n + 1):
        marker = Marker(SET, f"cam-{i}", broadcasts={f"show-{i}": 1000 + i})
        streams.append(
            {"id": i, "name": f"Cam {i}", "client_entity_data": encode_entity_data(marker, None)}
        )
        broadcasts.append(
            {"id": 1000 + i, "name": f"Show {i}", "status": "live", "stream_ids": [i]}
        )
    plan = Plan(
        tuple(
            Change(
                Resource.BROADCAST,
                f"show-{i}",
                Action.DELETE,
                Stage.DELETE_BROADCASTS,
                target_id=1000 + i,
                stream_refs=(f"cam-{i}",),
            )
            for i in range(1, n + 1)
        )
    )
    return LiveState.from_raw(streams, broadcasts), plan, Stub(streams)


class CountingLock:
    """A lock that counts its acquisitions by threads other than the one that made it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.owner = threading.current_thread()
        self.elsewhere = 0

    def acquire(self, *args: Any) -> bool:
        if threading.current_thread() is not self.owner:
            self.elsewhere += 1
        result: bool = self.inner.acquire(*args)
        return result

    def release(self) -> None:
        self.inner.release()

    def __enter__(self) -> CountingLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_changes_go_to_long_lived_workers_without_a_future_per_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, plan, stub = live_deletes(N)
    futures = 0
    made = concurrent.futures.Future.__init__

    def counted(self: Any) -> None:
        nonlocal futures
        futures += 1
        made(self)

    monkeypatch.setattr(concurrent.futures.Future, "__init__", counted)
    report = apply_plan(plan, stub, live, workers=WORKERS, set_name=SET, live_hold=live_hold)  # type: ignore[arg-type]

    assert [r.outcome for r in report.results] == [Outcome.DONE] * N
    assert futures == 0
    threads = {thread for thread, _method, _id in stub.calls}
    assert threads <= {f"apply_{i}" for i in range(WORKERS)}
    assert threading.current_thread().name not in threads
    # Each delete as invariant 5 and the marker's merge want it: its stream re-read, the
    # DELETE, then the marker PATCH beside that read (no second GET).
    for i in (1, N // 2, N):
        mine = [(m, oid) for _t, m, oid in stub.calls if oid in (i, 1000 + i)]
        assert mine == [("GET", i), ("DELETE", 1000 + i), ("PATCH", i)]
    assert Counter(m for _t, m, _id in stub.calls) == {"GET": N, "DELETE": N, "PATCH": N}
    for stream in stub.streams.values():
        marker = decode_entity_data(stream["client_entity_data"]).marker
        assert marker is not None and dict(marker.broadcasts) == {}


def test_a_delete_takes_no_lock_that_every_worker_shares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live, plan, stub = live_deletes(N)
    counted: dict[str, CountingLock] = {}

    def counting(cls: type, attribute: str) -> None:
        made = cls.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            made(self, *args, **kwargs)
            lock = CountingLock(getattr(self, attribute))
            setattr(self, attribute, lock)
            counted[cls.__name__] = lock

        monkeypatch.setattr(cls, "__init__", init)

    counting(markers_module.StreamBook, "_lock")
    counting(stagemarks_module.StageMarks, "_lock")
    for name in ("stream_by_id", "broadcast_by_id"):
        prop = LiveState.__dict__[name]
        counted[name] = CountingLock(prop.lock)
        monkeypatch.setattr(prop, "lock", counted[name])

    report = apply_plan(plan, stub, live, workers=WORKERS, set_name=SET, live_hold=live_hold)  # type: ignore[arg-type]

    assert [r.outcome for r in report.results] == [Outcome.DONE] * N
    assert counted["StreamBook"].elsewhere == 0  # each stream's bookkeeping: its own lock
    assert counted["StageMarks"].elsewhere == 0  # a stream one change edits: written uncounted
    # The live state apply was handed is indexed once (by whichever threads look first), never
    # per re-check: the few objects a re-check hands the rule are indexed without the lock.
    assert counted["stream_by_id"].elsewhere <= WORKERS
    assert counted["broadcast_by_id"].elsewhere <= WORKERS
