"""apply_plan against the in-process simulator: lifecycle order, marker bookkeeping, parallelism,
partial failure and create de-duplication, asserted from the simulator's state and request log."""

from __future__ import annotations

import threading
import time
from typing import Any

from reconciler.apply.scheduler import FOUND_AFTER_AMBIGUOUS, MAX_CREATE_ATTEMPTS, apply_plan
from reconciler.errors import ServerError
from reconciler.model.changes import Action, Change, Outcome, Plan, Resource, Stage
from reconciler.model.live import read_live
from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data

SET = "demo"


def marker_data(key: str) -> str:
    return encode_entity_data(Marker(set_name=SET, key=key), None) or ""


def create_stream(key: str, **fields: Any) -> Change:
    body = {"name": key, "active": False, **fields, "client_entity_data": marker_data(key)}
    return Change(Resource.STREAM, key, Action.CREATE, Stage.CREATE_STREAMS, body=body)


def create_broadcast(key: str, *streams: str, **fields: Any) -> Change:
    return Change(
        Resource.BROADCAST,
        key,
        Action.CREATE,
        Stage.CREATE_BROADCASTS,
        body={"name": key, "status": "pending", **fields},
        stream_refs=streams,
    )


def activate(key: str, target_id: int | None = None) -> Change:
    return Change(
        Resource.STREAM,
        key,
        Action.ACTIVATE,
        Stage.ACTIVATE_STREAMS,
        target_id=target_id,
        body={"active": True},
    )


def api_calls(sim: Any) -> list[str]:
    """Mutating calls in the order the simulator served them, ids replaced by {id}."""
    out = []
    for entry in sim.requests():
        if entry["method"] == "GET":
            continue
        parts = ["{id}" if p.isdigit() else p for p in entry["path"].split("/")]
        out.append(f"{entry['method']} {'/'.join(parts)}")
    return out


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [i for i in items if i["name"] == name]
    assert len(matches) == 1, f"{len(matches)} objects named {name!r}"
    return matches[0]


def test_lifecycle_order_and_markers(sim: Any, api: Any) -> None:
    # studio-a exists, is ours, active and live; studio-b is new.
    a = api.create_stream(
        {"name": "studio-a", "active": True, "client_entity_data": marker_data("studio-a")}
    )
    sim.connect(a["id"])
    sim.clear_log()
    plan = Plan(
        changes=(
            Change(
                Resource.STREAM,
                "studio-a",
                Action.START_RECORDING,
                Stage.START_RECORDING,
                target_id=a["id"],
            ),
            Change(
                Resource.BROADCAST,
                "show",
                Action.SET_STATUS,
                Stage.BROADCASTS_UP,
                body={"status": "live"},
            ),
            activate("studio-b"),
            create_broadcast("show", "studio-a", "studio-b"),
            create_stream("studio-b"),
        )
    )
    report = apply_plan(plan, api, read_live(api), workers=4)
    assert [r.outcome for r in report.results] == [Outcome.DONE] * 5
    assert api_calls(sim) == [
        "POST /streaming/streams",  # (this hand-made plan's marker carries no intent)
        "PATCH /streaming/streams/{id}",  # the intent to create 'show', in both markers
        "PATCH /streaming/streams/{id}",
        "POST /streaming/broadcasts",
        "PATCH /streaming/streams/{id}",  # studio-a: 'show' recorded, after its stage
        "PATCH /streaming/streams/{id}",  # studio-b: activated, and 'show' recorded
        "PATCH /streaming/broadcasts/{id}",  # live
        "PUT /streaming/streams/{id}/start_recording",
    ]
    streams = api.list_streams()
    (broadcast,) = api.list_broadcasts()
    assert broadcast["status"] == "live"
    for key in ("studio-a", "studio-b"):
        marker = decode_entity_data(by_name(streams, key)["client_entity_data"]).marker
        assert marker == Marker(set_name=SET, key=key, broadcasts={"show": broadcast["id"]})
        assert by_name(streams, key)["id"] in broadcast["stream_ids"]
    assert by_name(streams, "studio-a")["recording"] is True
    assert by_name(streams, "studio-b")["active"] is True
    # Every stream PATCH carried the name (the SDK types it as required).
    patches = [e for e in sim.requests() if e["method"] == "PATCH" and "streams" in e["path"]]
    assert all(e["body"]["stream"]["name"] for e in patches)


def test_results_keep_plan_order_and_report_created_ids(sim: Any, api: Any) -> None:
    plan = Plan(changes=(create_broadcast("show", "cam"), create_stream("cam")))
    seen: list[str] = []
    report = apply_plan(plan, api, read_live(api), on_result=lambda r: seen.append(r.change.key))
    assert [r.change.key for r in report.results] == ["show", "cam"]
    assert seen == ["cam", "show"]  # stage order
    stream = by_name(api.list_streams(), "cam")
    assert report.results[1].object_id == stream["id"]
    assert report.exit_code == 0


class Concurrency:
    """Wraps an API and records the most calls in flight at once."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.api, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                time.sleep(0.02)
                return target(*args, **kwargs)
            finally:
                with self.lock:
                    self.now -= 1

        return call


def test_independent_changes_run_in_parallel_under_the_limit(sim: Any, api: Any) -> None:
    plan = Plan(changes=tuple(create_stream(f"s{i:02d}") for i in range(12)))
    wrapped = Concurrency(api)
    report = apply_plan(plan, wrapped, read_live(api), workers=4)
    assert report.exit_code == 0
    assert wrapped.peak == 4
    assert len(api.list_streams()) == 12


class FailingCreates:
    """Fails the create of the named streams with a 5xx that outlived the retries."""

    def __init__(self, api: Any, names: set[str]) -> None:
        self.api = api
        self.names = names

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        if fields["name"] in self.names:
            raise ServerError("Server Error", method="POST", path="/streaming/streams", status=503)
        result: dict[str, Any] = self.api.create_stream(fields)
        return result


def test_a_failure_skips_its_dependents_only(sim: Any, api: Any) -> None:
    plan = Plan(
        changes=(
            create_stream("bad"),
            create_stream("good"),
            create_broadcast("on-bad", "bad"),
            create_broadcast("on-both", "good", "bad"),
            create_broadcast("on-good", "good"),
            activate("bad"),
            activate("good"),
        )
    )
    report = apply_plan(plan, FailingCreates(api, {"bad"}), read_live(api))
    outcomes = {(r.change.key, r.change.action): (r.outcome, r.detail) for r in report.results}
    assert outcomes[("bad", Action.CREATE)][0] is Outcome.FAILED
    assert "503" in outcomes[("bad", Action.CREATE)][1]
    for key in ("on-bad", "on-both"):
        assert outcomes[(key, Action.CREATE)] == (Outcome.SKIPPED, "stream/bad/create failed")
    assert outcomes[("bad", Action.ACTIVATE)] == (Outcome.SKIPPED, "stream/bad/create failed")
    assert outcomes[("good", Action.CREATE)][0] is Outcome.DONE
    assert outcomes[("on-good", Action.CREATE)][0] is Outcome.DONE
    assert outcomes[("good", Action.ACTIVATE)][0] is Outcome.DONE
    assert report.exit_code == 1
    assert [b["name"] for b in api.list_broadcasts()] == ["on-good"]
    assert [s["name"] for s in api.list_streams()] == ["good"]


def test_held_changes_are_reported_and_their_dependents_skipped(sim: Any, api: Any) -> None:
    stream = api.create_stream({"name": "cam", "client_entity_data": marker_data("cam")})
    held = Change(
        Resource.STREAM,
        "cam",
        Action.DELETE,
        Stage.DELETE_STREAMS,
        target_id=stream["id"],
        held="stream cam is live",
    )
    after = Change(
        Resource.VIDEO,
        "#1",
        Action.DELETE_RECORDING,
        Stage.CLEANUP,
        target_id=1,
        depends_on=(held.id,),
    )
    sim.clear_log()
    report = apply_plan(Plan(changes=(held, after)), api, read_live(api))
    assert [(r.outcome, r.detail) for r in report.results] == [
        (Outcome.HELD, "stream cam is live"),
        (Outcome.SKIPPED, "stream/cam/delete is held"),
    ]
    assert report.exit_code == 3
    assert api_calls(sim) == []


def test_ambiguous_creates_are_found_not_duplicated(sim: Any, api: Any) -> None:
    from reconciler.simulator import Faults

    sim.set_faults(Faults(drop_create_rate=1.0))
    plan = Plan(changes=(create_stream("cam"), create_broadcast("show", "cam")))
    report = apply_plan(plan, api, read_live(api))
    assert [(r.outcome, r.detail) for r in report.results] == [
        (Outcome.DONE, FOUND_AFTER_AMBIGUOUS),
        (Outcome.DONE, FOUND_AFTER_AMBIGUOUS),
    ]
    sim.set_faults(Faults())
    (stream,) = api.list_streams()
    (broadcast,) = api.list_broadcasts()
    marker = decode_entity_data(stream["client_entity_data"]).marker
    assert marker is not None and marker.broadcasts == {"show": broadcast["id"]}
    assert sim.counters()["POST /streaming/streams"] == 1
    assert sim.counters()["POST /streaming/broadcasts"] == 1


class LostCreates:
    """Every create raises AmbiguousCreate and commits nothing (the request never arrived)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.creates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    def create_stream(self, fields: dict[str, Any]) -> dict[str, Any]:
        from reconciler.errors import AmbiguousCreate

        self.creates += 1
        raise AmbiguousCreate("timed out", method="POST", path="/streaming/streams")


def test_a_create_that_stays_ambiguous_fails_after_the_budget(sim: Any, api: Any) -> None:
    lost = LostCreates(api)
    report = apply_plan(Plan(changes=(create_stream("cam"),)), lost, read_live(api))
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert f"unknown after {MAX_CREATE_ATTEMPTS} attempts" in result.detail
    assert "timed out" in result.detail and "next run" in result.detail
    assert lost.creates == MAX_CREATE_ATTEMPTS
    assert api.list_streams() == []


def test_delete_and_orphan_broadcast_update_the_markers(sim: Any, api: Any) -> None:
    plan = Plan(
        changes=(
            create_stream("cam"),
            create_broadcast("old", "cam"),
            create_broadcast("kept", "cam"),
        )
    )
    apply_plan(plan, api, read_live(api))
    live = read_live(api)
    ids = {b.name: b.id for b in live.broadcasts}
    sim.clear_log()
    teardown = Plan(
        changes=(
            Change(
                Resource.BROADCAST,
                "old",
                Action.DELETE,
                Stage.DELETE_BROADCASTS,
                target_id=ids["old"],
            ),
            Change(
                Resource.BROADCAST,
                "kept",
                Action.ORPHAN,
                Stage.DELETE_BROADCASTS,
                target_id=ids["kept"],
            ),
        )
    )
    report = apply_plan(teardown, api, live, workers=2)
    assert report.exit_code == 0
    (stream,) = api.list_streams()
    marker = decode_entity_data(stream["client_entity_data"]).marker
    # the released broadcast is remembered, so no later run recovers it by its name
    assert marker == Marker(set_name=SET, key="cam", released_broadcasts=frozenset({ids["kept"]}))
    assert [b["name"] for b in api.list_broadcasts()] == ["kept"]
    assert sorted(api_calls(sim)) == [
        "DELETE /streaming/broadcasts/{id}",
        "PATCH /streaming/streams/{id}",  # both edits of the stage's marker, in one write
    ]


def test_orphan_stream_keeps_the_users_own_data(sim: Any, api: Any) -> None:
    data = encode_entity_data(Marker(set_name=SET, key="cam"), {"team": "news"})
    stream = api.create_stream({"name": "cam", "client_entity_data": data})
    change = Change(
        Resource.STREAM, "cam", Action.ORPHAN, Stage.DELETE_STREAMS, target_id=stream["id"]
    )
    report = apply_plan(Plan(changes=(change,)), api, read_live(api))
    assert report.exit_code == 0
    (after,) = api.list_streams()
    decoded = decode_entity_data(after["client_entity_data"])
    assert decoded.marker is None and decoded.user_data == {"team": "news"}
