"""A stream reused between shows in one run (issue 8 item 1): the leaving show finishes, then the
stream's ingest changes, then the next show goes live; the stages allow it and `depends_on`
carries it, so a held finish holds the region change and the next show's go-live."""

from __future__ import annotations

from dataclasses import replace

from plan_fixtures import broadcast, dbroadcast, desired, dstream, live, marker, stream

from reconciler.model.changes import Stage
from reconciler.model.desired import ResourcePolicy
from reconciler.plan.compute import compute_plan
from reconciler.safety.guards import apply_guards


def reuse(*, on_air: bool):  # type: ignore[no-untyped-def]
    cam = stream(
        1,
        owner=marker("cam", broadcasts={"launch": 50, "encore": 51}),
        active=True,
        live=on_air,
        transcoding_region="ix1",
    )
    d = desired(
        [dstream("cam", active=True, transcoding_region="dt1")],
        [
            dbroadcast("launch", ["cam"], status="finished"),
            dbroadcast("encore", ["cam"], status="live"),
        ],
    )
    state = live(
        cam,
        broadcast(50, "launch", [1], status="live"),
        broadcast(51, "encore", [1], status="pending"),
    )
    return d, state, compute_plan(d, state)


def test_reuse_runs_finish_then_region_then_live() -> None:
    _d, _state, plan = reuse(on_air=False)
    ids = [c.id for c in plan.changes]
    finish, region, go_live = (
        "broadcast/launch/set_status",
        "stream/cam/update",
        "broadcast/encore/set_status",
    )
    assert ids.index(finish) < ids.index(region) < ids.index(go_live)
    by_id = {c.id: c for c in plan.changes}
    assert by_id[finish].stage < by_id[region].stage < by_id[go_live].stage
    assert finish in by_id[region].depends_on
    assert {finish, region} <= set(by_id[go_live].depends_on)


def test_a_held_finish_holds_the_region_change_and_the_next_show() -> None:
    d, state, plan = reuse(on_air=True)
    # The stream's own policy lets its region change through while live; the finish is held.
    cam = replace(d.streams["cam"], policy=ResourcePolicy(allow_live_changes=True))
    d = replace(d, streams={"cam": cam})
    held = {c.id: c.held for c in apply_guards(plan, d, state).changes}
    assert str(held["broadcast/launch/set_status"]).startswith("broadcast 'launch' (id 50) shows")
    waits = "waits for broadcast/launch/set_status, which is held"
    assert str(held["stream/cam/update"]).startswith(waits)
    assert str(held["broadcast/encore/set_status"]).startswith(waits)


def test_a_finish_alone_still_comes_before_deactivation() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), active=True)
    d = desired([dstream("cam", active=False)], [dbroadcast("show", ["cam"], status="finished")])
    plan = compute_plan(d, live(cam, broadcast(50, "show", [1], status="live")))
    assert [c.stage for c in plan.changes] == [
        Stage.BROADCASTS_FINISHED,
        Stage.DEACTIVATE_STREAMS,
    ]


def test_a_show_on_another_stream_does_not_wait() -> None:
    cams = [
        stream(1, owner=marker("a", broadcasts={"launch": 50}), active=True),
        stream(2, owner=marker("b", broadcasts={"encore": 51}), active=True),
    ]
    d = desired(
        [dstream("a", active=True), dstream("b", active=True)],
        [
            dbroadcast("launch", ["a"], status="finished"),
            dbroadcast("encore", ["b"], status="live"),
        ],
    )
    state = live(
        *cams,
        broadcast(50, "launch", [1], status="live"),
        broadcast(51, "encore", [2], status="pending"),
    )
    go_live = next(c for c in compute_plan(d, state).changes if c.key == "encore")
    assert "broadcast/launch/set_status" not in go_live.depends_on


def pruned(launch_status: str, encore_status: str, encore_live: str = "pending"):  # type: ignore[no-untyped-def]
    """launch (removed from the manifests) and encore on cam; encore declared `encore_status`."""
    cam = stream(1, owner=marker("cam", broadcasts={"launch": 50, "encore": 51}), active=True)
    d = desired(
        [dstream("cam", active=True)], [dbroadcast("encore", ["cam"], status=encore_status)]
    )
    state = live(
        cam,
        broadcast(50, "launch", [1], status=launch_status),
        broadcast(51, "encore", [1], status=encore_live),
    )
    return {c.id: c for c in compute_plan(d, state).changes}


def test_a_deleted_live_show_finishes_first_when_the_next_goes_live() -> None:
    by_id = pruned("live", "live")
    finish = by_id["broadcast/launch/set_status"]
    assert (finish.stage, finish.target_id, dict(finish.body)) == (
        Stage.BROADCASTS_FINISHED,
        50,
        {"status": "finished", "name": "launch"},
    )
    assert by_id["broadcast/launch/delete"].depends_on == (finish.id,)
    assert finish.id in by_id["broadcast/encore/set_status"].depends_on


def test_a_deleted_show_is_only_deleted_when_nothing_goes_up_or_it_is_not_up() -> None:
    for launch, encore in (("live", "pending"), ("pending", "live"), ("finished", "live")):
        by_id = pruned(launch, encore)
        assert "broadcast/launch/set_status" not in by_id, (launch, encore)
        assert by_id["broadcast/launch/delete"].depends_on == ()


def test_a_paused_show_going_live_waits_too() -> None:
    """paused -> live (the end of an interruption) would make a second live show as well."""
    by_id = pruned("live", "live", encore_live="paused")
    assert (
        by_id["broadcast/launch/set_status"].id in by_id["broadcast/encore/set_status"].depends_on
    )
