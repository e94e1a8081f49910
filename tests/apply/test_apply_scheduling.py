"""apply_plan's scheduler on large plans against a cheap in-memory API: every change runs once,
stages never overlap, a failure skips exactly its dependents, and long dependency chains in one
stage run in order."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from typing import Any

from reconciler.apply.scheduler import apply_plan
from reconciler.errors import ServerError
from reconciler.model.changes import Action, Change, ChangeResult, Outcome, Plan, Resource, Stage
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, encode_entity_data

SET = "demo"


class FakeAPI:
    """Answers at once and records every call in the order it was made; the creates of the
    streams named in `fail` and the PATCHes of the ids in `fail_ids` fail with a 503."""

    def __init__(self, fail: frozenset[str] = frozenset(), fail_ids: frozenset[int] = frozenset()):
        self.fail = fail
        self.fail_ids = fail_ids
        self.lock = threading.Lock()
        self.ids = itertools.count(1000)
        self.calls: list[tuple[str, Any]] = []

    def _record(self, call: str, what: Any) -> int:
        with self.lock:
            self.calls.append((call, what))
            return next(self.ids)

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        new_id = self._record("create_stream", fields["name"])
        if fields["name"] in self.fail:
            raise ServerError("Server Error", method="POST", path="/streaming/streams", status=503)
        return {"id": new_id, **fields}

    def create_broadcast(self, fields: dict[str, Any], **options: Any) -> dict[str, Any]:
        return {"id": self._record("create_broadcast", fields["name"]), **fields}

    def update_stream(self, stream_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        self._record("update_stream", (stream_id, fields))
        if stream_id in self.fail_ids:
            raise ServerError(
                "Server Error", method="PATCH", path="/streaming/streams/1", status=503
            )
        return {"id": stream_id, **fields}

    def list_streams(self) -> list[dict[str, Any]]:
        self._record("list_streams", None)
        return []

    def list_broadcasts(self) -> list[dict[str, Any]]:
        self._record("list_broadcasts", None)
        return []


def marker(key: str) -> str:
    return encode_entity_data(Marker(set_name=SET, key=key), None) or ""


def first_apply(n: int) -> Plan:
    """What a first apply of n streams, each with a broadcast and activated, plans."""
    changes: list[Change] = []
    for i in range(n):
        key = f"s{i:04d}"
        body = {"name": key, "active": False, "client_entity_data": marker(key)}
        changes += [
            Change(Resource.STREAM, key, Action.CREATE, Stage.CREATE_STREAMS, body=body),
            Change(
                Resource.BROADCAST,
                f"b{i:04d}",
                Action.CREATE,
                Stage.CREATE_BROADCASTS,
                body={"name": f"b{i:04d}", "status": "pending"},
                stream_refs=(key,),
            ),
            Change(
                Resource.STREAM, key, Action.ACTIVATE, Stage.ACTIVATE_STREAMS, body={"active": True}
            ),
        ]
    return Plan(changes=tuple(sorted(changes, key=lambda c: (c.stage, c.resource, c.key))))


def stage_of(call: str, what: Any) -> Stage:
    if call in ("list_streams", "create_stream"):
        return Stage.CREATE_STREAMS
    if call in ("list_broadcasts", "create_broadcast"):
        return Stage.CREATE_BROADCASTS
    _stream_id, body = what
    # A marker PATCH records a new broadcast; an activation sends `active`.
    return Stage.ACTIVATE_STREAMS if "active" in body else Stage.CREATE_BROADCASTS


def test_a_large_plan_runs_every_change_once_stage_by_stage() -> None:
    n = 1500
    failing = frozenset(f"s{i:04d}" for i in range(0, n, 10))
    fake = FakeAPI(fail=failing)
    seen: list[ChangeResult] = []
    threads: set[str] = set()

    def on_result(result: ChangeResult) -> None:
        seen.append(result)
        threads.add(threading.current_thread().name)

    plan = first_apply(n)
    report = apply_plan(plan, fake, LiveState((), ()), workers=8, on_result=on_result, set_name=SET)  # type: ignore[arg-type]

    assert [r.change for r in report.results] == list(plan.changes)
    assert sorted(id(r) for r in seen) == sorted(id(r) for r in report.results)
    assert threads == {threading.current_thread().name}  # callbacks on the calling thread
    stages = [stage_of(call, what) for call, what in fake.calls]
    assert stages == sorted(stages), "a change ran before an earlier stage had finished"
    # Each create stage sweeps its kind once, before its first POST.
    assert fake.calls[0] == ("list_streams", None)
    first_broadcast = stages.index(Stage.CREATE_BROADCASTS)
    assert fake.calls[first_broadcast] == ("list_broadcasts", None)
    counts: dict[str, int] = {}
    for call, _what in fake.calls:
        counts[call] = counts.get(call, 0) + 1
    ok = n - len(failing)
    # One POST per stream, one per broadcast whose stream exists, one marker PATCH and one
    # activation per such stream; one sweep per kind before creating, no other (nothing was
    # ambiguous).
    assert counts == {
        "list_streams": 1,
        "create_stream": n,
        "list_broadcasts": 1,
        "create_broadcast": ok,
        "update_stream": 2 * ok,
    }

    outcomes = {(r.change.key, r.change.action): (r.outcome, r.detail) for r in report.results}
    for i in range(n):
        key = f"s{i:04d}"
        if key in failing:
            assert outcomes[(key, Action.CREATE)][0] is Outcome.FAILED
            cause = (Outcome.SKIPPED, f"stream/{key}/create failed")
            assert outcomes[(key, Action.ACTIVATE)] == cause
            assert outcomes[(f"b{i:04d}", Action.CREATE)] == cause
        else:
            assert outcomes[(key, Action.ACTIVATE)] == (Outcome.DONE, "")
            assert outcomes[(f"b{i:04d}", Action.CREATE)] == (Outcome.DONE, "")
    assert report.count(Outcome.FAILED) == len(failing)
    assert report.exit_code == 1


def chain(n: int) -> tuple[LiveState, list[Change]]:
    """n updates in one stage, each declared to depend on the one before."""
    streams = tuple(
        {"id": i, "name": f"s{i}", "client_entity_data": marker(f"s{i}")} for i in range(n)
    )
    changes = [
        Change(
            Resource.STREAM,
            f"s{i}",
            Action.UPDATE,
            Stage.UPDATE_STREAMS,
            target_id=i,
            body={"name": f"s{i}", "dvr_duration": 7200},
            depends_on=(f"stream/s{i - 1}/update",) if i else (),
        )
        for i in range(n)
    ]
    return LiveState.from_raw(streams), changes


def test_a_long_chain_in_one_stage_runs_in_order_and_stops_at_a_failure() -> None:
    live, changes = chain(3000)
    fake = FakeAPI(fail_ids=frozenset({2000}))
    report = apply_plan(Plan(changes=tuple(changes)), fake, live, workers=8, set_name=SET)  # type: ignore[arg-type]
    assert [what[0] for _call, what in fake.calls] == list(range(2001))
    results = report.results
    assert all(r.outcome is Outcome.DONE for r in results[:2000])
    assert results[2000].outcome is Outcome.FAILED and "503" in results[2000].detail
    assert (results[2001].outcome, results[2001].detail) == (
        Outcome.SKIPPED,
        "stream/s2000/update failed",
    )
    assert all(
        (r.outcome, r.detail) == (Outcome.SKIPPED, f"stream/s{i - 1}/update was skipped")
        for i, r in enumerate(results[2002:], start=2002)
    )


def test_dependencies_that_cannot_be_met_are_skipped_not_waited_for() -> None:
    live, changes = chain(4)
    later = Change(
        Resource.STREAM, "s3", Action.DEACTIVATE, Stage.DEACTIVATE_STREAMS, target_id=3, body={}
    )
    early = Change(
        Resource.STREAM,
        "s0",
        Action.ACTIVATE,
        Stage.ACTIVATE_STREAMS,
        target_id=0,
        body={"active": True},
        depends_on=(later.id,),
    )
    # s1 and s2 wait for each other: a cycle.
    changes[1] = replace(changes[1], depends_on=("stream/s2/update",))
    fake = FakeAPI()
    plan = Plan(changes=(changes[0], changes[1], changes[2], changes[3], early, later))
    report = apply_plan(plan, fake, live, set_name=SET)  # type: ignore[arg-type]
    outcomes = [(r.change.id, r.outcome, r.detail) for r in report.results]
    waits = "depends on a change that runs later"
    assert outcomes == [
        ("stream/s0/update", Outcome.DONE, ""),
        ("stream/s1/update", Outcome.SKIPPED, waits),
        ("stream/s2/update", Outcome.SKIPPED, waits),
        ("stream/s3/update", Outcome.SKIPPED, waits),
        ("stream/s0/activate", Outcome.SKIPPED, waits),
        ("stream/s3/deactivate", Outcome.DONE, ""),
    ]
    assert [what[0] for _call, what in fake.calls] == [0, 3]
