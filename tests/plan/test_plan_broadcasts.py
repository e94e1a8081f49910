"""Planner rules for broadcasts: ownership through stream markers, stream sets, status lifecycle,
marker bookkeeping, recovery of an interrupted run, adoption, prune and the interruption policy."""

from __future__ import annotations

import pytest
from plan_fixtures import broadcast, dbroadcast, desired, dstream, live, marker, stream

from reconciler.errors import PlanError
from reconciler.model.changes import Action, FieldDiff, Resource, Stage
from reconciler.model.marker import decode_entity_data
from reconciler.plan.compute import compute_plan


def summary(plan):  # type: ignore[no-untyped-def]
    return [(c.resource.value, c.key, c.action.value, c.target_id) for c in plan.changes]


def written_marker(change):  # type: ignore[no-untyped-def]
    return decode_entity_data(change.body["client_entity_data"]).marker


def test_create_pending_then_live_after_its_streams() -> None:
    d = desired(
        [dstream("cam", active=True)],
        [dbroadcast("show", ["cam"], status="live", pending_message="soon")],
    )
    plan = compute_plan(d, live())
    create = next(c for c in plan.changes if c.id == "broadcast/show/create")
    assert create.stage is Stage.CREATE_BROADCASTS
    assert create.body == {"name": "show", "status": "pending", "pending_message": "soon"}
    assert create.stream_refs == ("cam",) and "stream_ids" not in create.body
    assert create.depends_on == ("stream/cam/create",)
    assert FieldDiff("add", "/streams", None, ["cam"]) in create.diffs
    up = next(c for c in plan.changes if c.action is Action.SET_STATUS)
    assert (up.stage, up.body) == (Stage.BROADCASTS_UP, {"status": "live", "name": "show"})
    assert up.depends_on == ("broadcast/show/create", "stream/cam/activate")
    assert [c.stage for c in plan.changes] == sorted(c.stage for c in plan.changes)


@pytest.mark.parametrize(
    ("cams", "status", "warned"),
    [
        ({"cam": False}, "live", True),
        ({"cam": False}, "paused", True),
        ({"cam": False}, "pending", False),
        ({"cam": False, "spare": True}, "live", False),  # one stream can still take an encoder
        ({"cam": None}, "live", False),  # `active` not declared: the account's
    ],
)
def test_a_show_on_air_on_streams_declared_inactive_is_warned(
    cams: dict[str, bool | None], status: str, warned: bool
) -> None:
    streams = [dstream(k, active=v) if v is not None else dstream(k) for k, v in cams.items()]
    plan = compute_plan(desired(streams, [dbroadcast("show", list(cams), status=status)]), live())
    expected = (
        f"broadcast 'show' is declared {status} on stream(s) 'cam' declared `active: false`: no "
        "encoder can push to an inactive stream; activate the stream or declare the broadcast "
        "pending"
    )
    assert (expected in plan.warnings) is warned, plan.warnings


def test_create_finished_or_pending_needs_no_status_change() -> None:
    d = desired([dstream("cam")], [dbroadcast("old", ["cam"], status="finished")])
    plan = compute_plan(d, live(stream(1, owner=marker("cam"))))
    assert summary(plan) == [("broadcast", "old", "create", None)]
    assert plan.changes[0].body["status"] == "finished"
    assert plan.changes[0].depends_on == ()


def test_freshly_created_broadcast_does_not_dirty_the_stream_marker() -> None:
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"])])
    plan = compute_plan(d, live(stream(1, owner=marker("cam"))))
    assert summary(plan) == [("broadcast", "show", "create", None)]


def owned_pair(**fields):  # type: ignore[no-untyped-def]
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), active=True)
    return live(cam, broadcast(50, "show", [1], **fields))


def test_converged_broadcast_plans_nothing() -> None:
    d = desired([dstream("cam", active=True)], [dbroadcast("show", ["cam"], status="pending")])
    assert compute_plan(d, owned_pair()).is_empty


def test_field_drift_is_an_update_with_name_and_no_stream_refs() -> None:
    d = desired([dstream("cam", active=True)], [dbroadcast("show", ["cam"], share_url="u")])
    plan = compute_plan(d, owned_pair(share_url="old"))
    (update,) = plan.changes
    assert (update.action, update.stage, update.target_id) == (
        Action.UPDATE,
        Stage.UPDATE_BROADCASTS,
        50,
    )
    assert update.body == {"name": "show", "share_url": "u"} and update.stream_refs == ()
    assert update.diffs == (FieldDiff("replace", "/share_url", "old", "u"),)


def test_stream_set_compared_as_a_set() -> None:
    cams = [stream(i, owner=marker(f"c{i}", broadcasts={"show": 50})) for i in (1, 2)]
    d = desired([dstream("c1"), dstream("c2")], [dbroadcast("show", ["c2", "c1"])])
    assert compute_plan(d, live(*cams, broadcast(50, "show", [1, 2]))).is_empty


def test_stream_set_change_names_the_stream_keys() -> None:
    cams = [stream(1, owner=marker("c1", broadcasts={"show": 50})), stream(3, "theirs")]
    d = desired([dstream("c1"), dstream("c2")], [dbroadcast("show", ["c1", "c2"])])
    plan = compute_plan(d, live(*cams, broadcast(50, "show", [1, 3])))
    update = next(c for c in plan.changes if c.resource is Resource.BROADCAST)
    assert update.stream_refs == ("c1", "c2")
    assert update.depends_on == ("stream/c2/create",)
    assert update.diffs == (FieldDiff("replace", "/streams", ["#3", "c1"], ["c1", "c2"]),)
    created = next(c for c in plan.changes if c.id == "stream/c2/create")
    assert written_marker(created).broadcasts == {"show": 50}  # known id: recorded at create


@pytest.mark.parametrize(
    ("wanted", "current", "stage"),
    [
        ("live", "pending", Stage.BROADCASTS_UP),
        ("paused", "live", Stage.BROADCASTS_UP),
        ("finished", "live", Stage.BROADCASTS_FINISHED),
        ("pending", "finished", Stage.BROADCASTS_UP),
    ],
)
def test_status_change_is_a_set_status_in_its_stage(
    wanted: str, current: str, stage: Stage
) -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), active=True, live=True)
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"], status=wanted)])
    plan = compute_plan(d, live(cam, broadcast(50, "show", [1], status=current)))
    (change,) = [c for c in plan.changes if c.resource is Resource.BROADCAST]
    assert (change.action, change.stage, change.target_id) == (Action.SET_STATUS, stage, 50)
    assert change.body == {"status": wanted, "name": "show"}


def test_undeclared_status_is_the_servers() -> None:
    d = desired([dstream("cam", active=True)], [dbroadcast("show", ["cam"])])
    assert compute_plan(d, owned_pair(status="finished")).is_empty


def test_marker_listing_a_vanished_broadcast_is_repaired() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50, "gone": 49}))
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"])])
    plan = compute_plan(d, live(cam, broadcast(50, "show", [1])))
    (update,) = plan.changes
    assert update.reason == "ownership marker out of date"
    assert written_marker(update).broadcasts == {"show": 50}
    assert FieldDiff("remove", "/client_entity_data/reconciler/broadcasts/gone", 49) in update.diffs


def test_a_stream_the_broadcast_leaves_keeps_its_entry_until_the_move() -> None:
    """Apply forgets the entry once it moved the broadcast; a held move keeps it ours."""
    a = stream(1, owner=marker("a", broadcasts={"show": 50}))
    b = stream(2, owner=marker("b", broadcasts={"show": 50}))
    d = desired([dstream("a"), dstream("b")], [dbroadcast("show", ["a"])])
    plan = compute_plan(d, live(a, b, broadcast(50, "show", [1, 2])))
    assert summary(plan) == [("broadcast", "show", "update", 50)]
    assert plan.changes[0].stream_refs == ("a",)


def test_a_marker_entry_for_a_stream_the_broadcast_never_used_is_repaired() -> None:
    a = stream(1, owner=marker("a", broadcasts={"show": 50}))
    b = stream(2, owner=marker("b", broadcasts={"show": 50}))
    d = desired([dstream("a"), dstream("b")], [dbroadcast("show", ["a"])])
    plan = compute_plan(d, live(a, b, broadcast(50, "show", [1])))
    assert summary(plan) == [("stream", "b", "update", 2)]
    assert written_marker(plan.changes[0]).broadcasts == {}


def test_unrecorded_broadcast_of_an_interrupted_run_is_adopted_by_name() -> None:
    cam = stream(1, owner=marker("cam", intents={"show": "show"}))
    state = live(cam, broadcast(61, "show", [1]), broadcast(60, "show", [1]))
    plan = compute_plan(desired([dstream("cam")], [dbroadcast("show", ["cam"])]), state)
    (adopt,) = plan.changes
    assert (adopt.action, adopt.target_id, adopt.stage) == (
        Action.ADOPT,
        60,
        Stage.UPDATE_BROADCASTS,
    )
    assert adopt.reason == "found from an interrupted run" and adopt.stream_refs == ("cam",)
    assert plan.warnings == (
        "broadcast 'show': several unrecorded broadcasts named 'show' use this set's streams; "
        "adopting #60, #61 left untouched",
    )


def test_a_hand_made_broadcast_with_the_name_is_not_taken_over() -> None:
    """Issue 9 item 1: no intent recorded by this set on the stream, so not an interrupted
    create of ours, whatever its name and streams."""
    state = live(stream(1, owner=marker("cam")), broadcast(60, "show", [1]))
    plan = compute_plan(desired([dstream("cam")], [dbroadcast("show", ["cam"])]), state)
    assert summary(plan) == [("broadcast", "show", "create", None)]
    assert not plan.warnings


def test_same_name_on_someone_elses_streams_is_not_recovered() -> None:
    cam = stream(1, owner=marker("cam", intents={"show": "show"}))
    state = live(cam, stream(2), broadcast(60, "show", [2]))
    plan = compute_plan(desired([dstream("cam")], [dbroadcast("show", ["cam"])]), state)
    assert summary(plan) == [("broadcast", "show", "create", None)]


def test_recovery_never_takes_a_broadcast_recorded_under_another_key() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"a": 60}))
    d = desired(
        [dstream("cam")], [dbroadcast("a", ["cam"], name="x"), dbroadcast("b", ["cam"], name="a")]
    )
    plan = compute_plan(d, live(cam, broadcast(60, "a", [1])))
    assert ("broadcast", "b", "create", None) in summary(plan)


def test_explicit_broadcast_adoption() -> None:
    state = live(stream(1, owner=marker("cam")), broadcast(70, "Legacy", [], share_url="s"))
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"], adopt_id=70, share_url="s")])
    (adopt,) = compute_plan(d, state).changes
    assert (adopt.action, adopt.target_id, adopt.reason) == (Action.ADOPT, 70, "adopt_id 70")
    assert adopt.body == {"name": "show"} and adopt.stream_refs == ("cam",)
    assert adopt.diffs == (
        FieldDiff("replace", "/name", "Legacy", "show"),
        FieldDiff("replace", "/streams", [], ["cam"]),
    )


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ((), "no broadcast with this id"),
        ((stream(2, owner=marker("x", set_name="other", broadcasts={"y": 70})),), "set 'other'"),
        ((stream(2, owner=marker("x", broadcasts={"mine": 70})),), "managed by this set as 'mine'"),
    ],
)
def test_broadcast_adoption_conflicts(objects: tuple[dict, ...], message: str) -> None:  # type: ignore[type-arg]
    state = live(stream(1, owner=marker("cam")), *objects, broadcast(70, "b", [2]))
    if not objects:
        state = live(stream(1, owner=marker("cam")))
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"], adopt_id=70)])
    with pytest.raises(PlanError, match=message):
        compute_plan(d, state)


def test_broadcast_without_streams_cannot_be_owned() -> None:
    with pytest.raises(PlanError, match="at least one stream of its set"):
        compute_plan(desired([], [dbroadcast("show", [])]), live())


def test_prune_deletes_broadcasts_before_their_streams() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}))
    plan = compute_plan(desired(), live(cam, broadcast(50, "show", [1])))
    assert summary(plan) == [("broadcast", "show", "delete", 50), ("stream", "cam", "delete", 1)]
    assert plan.changes[0].stage is Stage.DELETE_BROADCASTS
    assert plan.changes[0].stream_refs == ("cam",)
    assert plan.changes[1].depends_on == ("broadcast/show/delete",)


@pytest.mark.parametrize("show_orphan", [False, True])
def test_a_stream_is_released_after_the_prunes_of_the_broadcasts_it_records(
    show_orphan: bool,
) -> None:
    """Its marker is their only ownership record: the release waits for their delete or release
    (a later stage, so the dependency can be met), and a held one holds it."""
    flags = {"orphan_broadcasts": frozenset({"show"})} if show_orphan else {}
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}, orphan=True, **flags))
    plan = compute_plan(desired(), live(cam, broadcast(50, "show", [1])))
    how = "orphan" if show_orphan else "delete"
    assert summary(plan) == [("broadcast", "show", how, 50), ("stream", "cam", "orphan", 1)]
    release = plan.changes[1]
    assert release.depends_on == (f"broadcast/show/{how}",)
    assert plan.changes[0].stage < release.stage is Stage.RELEASE_STREAMS


def test_dropped_broadcast_stays_in_the_markers_until_apply_forgets_it() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), dvr_enabled=True)
    plan = compute_plan(desired([dstream("cam")]), live(cam, broadcast(50, "show", [1])))
    assert summary(plan) == [("broadcast", "show", "delete", 50)]


def test_deleting_a_stream_a_kept_broadcast_uses_drops_it_from_the_broadcast() -> None:
    a = stream(1, owner=marker("a", broadcasts={"show": 50}))
    b = stream(2, owner=marker("b", broadcasts={"show": 50}))
    d = desired([dstream("a")], [dbroadcast("show", ["a"])])
    plan = compute_plan(d, live(a, b, broadcast(50, "show", [1, 2])))
    assert summary(plan) == [("broadcast", "show", "update", 50), ("stream", "b", "delete", 2)]


def test_protected_and_orphaned_broadcasts() -> None:
    cam = stream(
        1,
        owner=marker(
            "cam",
            broadcasts={"p": 50, "o": 51},
            protected_broadcasts=frozenset({"p"}),
            orphan_broadcasts=frozenset({"o"}),
        ),
    )
    state = live(cam, broadcast(50, "p", [1]), broadcast(51, "o", [1]))
    plan = compute_plan(desired([dstream("cam")]), state)
    (orphan,) = plan.changes
    assert (orphan.action, orphan.target_id, orphan.stream_refs) == (Action.ORPHAN, 51, ("cam",))
    assert plan.notes == ("broadcast 'p' (id 50): kept: protected (removed from the manifests)",)


def test_broadcast_policy_is_recorded_on_its_streams() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}))
    d = desired([dstream("cam")], [dbroadcast("show", ["cam"], protect=True)])
    (update,) = compute_plan(d, live(cam, broadcast(50, "show", [1]))).changes
    assert written_marker(update).protected_broadcasts == {"show"}


def test_unowned_broadcasts_are_never_targets() -> None:
    state = live(stream(1, owner=marker("cam")), stream(2), broadcast(80, "show", [2]))
    plan = compute_plan(desired([dstream("cam")], [dbroadcast("other", ["cam"])]), state)
    assert all(c.target_id != 80 for c in plan.changes)


# --- interruption (issue 4) --------------------------------------------------------------------


def interrupted(status: str, *, on_air: bool, policy: bool):  # type: ignore[no-untyped-def]
    cam = stream(
        1,
        # We set the show live when the stream had no ingest event yet (the evidence) ...
        owner=marker("cam", broadcasts={"show": 50}, live_after={"show": ""}),
        active=True,
        live=on_air,
        # ... and it had a session since: a drop of its own time on air, not a wait.
        started_at_primary="2026-01-01T10:00:00.000Z",
        finished_at_primary=None if on_air else "2026-01-01T11:00:00.000Z",
    )
    d = desired(
        [dstream("cam", active=True)],
        [dbroadcast("show", ["cam"], status="live", pause_on_interruption=policy)],
    )
    return compute_plan(d, live(cam, broadcast(50, "show", [1], status=status)))


def test_interruption_pauses_with_the_policy() -> None:
    plan = interrupted("live", on_air=False, policy=True)
    (pause,) = plan.changes
    assert (pause.action, pause.body["status"]) == (Action.SET_STATUS, "paused")
    assert pause.reason == "stream(s) down: interruption"


def test_interruption_without_policy_is_a_warning() -> None:
    plan = interrupted("live", on_air=False, policy=False)
    assert plan.is_empty
    assert plan.warnings == ("broadcast 'show' is live but its stream(s) 'cam' are down",)


def test_paused_by_the_policy_does_not_flap_while_down() -> None:
    assert interrupted("paused", on_air=False, policy=True).is_empty


def test_back_to_live_when_the_stream_returns() -> None:
    (resume,) = interrupted("paused", on_air=True, policy=True).changes
    assert resume.body["status"] == "live" and resume.reason.startswith("stream(s) back")


def test_a_stream_that_never_had_a_session_is_waiting_not_interrupted() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), active=True, live=False)
    d = desired(
        [dstream("cam", active=True)],
        [dbroadcast("show", ["cam"], status="live", pause_on_interruption=True)],
    )
    plan = compute_plan(d, live(cam, broadcast(50, "show", [1], status="live")))
    assert plan.is_empty
    assert plan.warnings == (
        "broadcast 'show' is declared live; no encoder has connected to its stream(s) 'cam' yet",
    )


def test_going_live_waits_for_the_update_of_its_stream() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), transcoding_region="ix1")
    d = desired(
        [dstream("cam", transcoding_region="dt1")],
        [dbroadcast("show", ["cam"], status="live")],
    )
    plan = compute_plan(d, live(cam, broadcast(50, "show", [1], status="pending")))
    go_live = next(c for c in plan.changes if c.action is Action.SET_STATUS)
    assert "stream/cam/update" in go_live.depends_on


def test_live_broadcast_with_stream_on_air_is_quiet() -> None:
    plan = interrupted("live", on_air=True, policy=True)
    assert plan.is_empty and not plan.warnings


def test_adopted_stream_gets_the_marker_entries_of_its_broadcasts() -> None:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}))
    state = live(cam, stream(7, "Spare"), broadcast(50, "show", [1, 7]))
    d = desired(
        [dstream("cam"), dstream("spare", adopt_id=7)], [dbroadcast("show", ["cam", "spare"])]
    )
    (adopt,) = compute_plan(d, state).changes
    assert (adopt.action, adopt.target_id) == (Action.ADOPT, 7)
    assert written_marker(adopt).broadcasts == {"show": 50}


def test_recovery_never_takes_another_sets_broadcast() -> None:
    theirs = stream(2, owner=marker("cam", set_name="other", broadcasts={"show": 60}))
    ours = stream(1, owner=marker("cam", intents={"show": "show"}))
    state = live(ours, theirs, broadcast(60, "show", [1, 2]))
    plan = compute_plan(desired([dstream("cam")], [dbroadcast("show", ["cam"])]), state)
    assert summary(plan) == [("broadcast", "show", "create", None)]


def test_plan_error_names_the_manifest_line() -> None:
    from dataclasses import replace

    from reconciler.model.desired import Source

    wanted = replace(dbroadcast("show", ["cam"], adopt_id=99), source=Source("shows.yaml", 12))
    with pytest.raises(PlanError) as caught:
        compute_plan(desired([dstream("cam")], [wanted]), live(stream(1, owner=marker("cam"))))
    assert str(caught.value) == (
        "shows.yaml:12: broadcast 'show': adopt_id 99: no broadcast with this id in the account"
    )


# --- interruption belongs to a broadcast's own time on air (issue 8 item 2) ---------------------

LAUNCH_ENDED = "2026-01-01T11:00:00.000Z"


def reused(status: str, record: str | None, **stream_fields: object):  # type: ignore[no-untyped-def]
    """The encore on a stream whose previous show (a session 10:00-11:00) is over."""
    records = {} if record is None else {"encore": record}
    fields = {
        "started_at_primary": "2026-01-01T10:00:00.000Z",
        "finished_at_primary": LAUNCH_ENDED,
        **stream_fields,
    }
    cam = stream(
        1,
        owner=marker("cam", broadcasts={"encore": 51}, live_after=records),
        active=True,
        **fields,
    )
    d = desired(
        [dstream("cam", active=True)],
        [dbroadcast("encore", ["cam"], status="live", pause_on_interruption=True)],
    )
    return compute_plan(d, live(cam, broadcast(51, "encore", [1], status=status)))


def test_going_live_records_the_streams_last_ingest_event() -> None:
    plan = reused("pending", None)
    update, go_live = plan.changes
    assert update.id == "stream/cam/update" and update.reason == "ownership marker out of date"
    assert written_marker(update).live_after == {"encore": LAUNCH_ENDED}
    assert go_live.body["status"] == "live" and update.id in go_live.depends_on


def test_the_previous_shows_session_is_not_this_shows_interruption() -> None:
    plan = reused("live", LAUNCH_ENDED)
    assert plan.is_empty
    assert plan.warnings == (
        "broadcast 'encore' is declared live; no encoder has connected to its stream(s) 'cam' yet",
    )


def test_a_drop_after_going_live_is_an_interruption() -> None:
    plan = reused(
        "live",
        LAUNCH_ENDED,
        started_at_primary="2026-01-01T12:00:00.000Z",
        finished_at_primary="2026-01-01T12:30:00.000Z",
    )
    (pause,) = plan.changes
    assert (pause.body["status"], pause.reason) == ("paused", "stream(s) down: interruption")


def test_a_drop_of_the_backup_ingest_alone_counts_by_its_start() -> None:
    plan = reused("live", LAUNCH_ENDED, started_at_backup="2026-01-01T12:00:00.000Z")
    assert [c.body["status"] for c in plan.changes] == ["paused"]


def test_without_evidence_a_live_broadcast_is_never_paused() -> None:
    """Adopted, or set live by hand: no record, so no claim that it was interrupted."""
    plan = reused(
        "live",
        None,
        started_at_primary="2026-01-01T12:00:00.000Z",
        finished_at_primary="2026-01-01T12:30:00.000Z",
    )
    assert plan.is_empty


def test_a_live_broadcast_keeps_its_record_and_resumes_without_a_marker_write() -> None:
    plan = reused(
        "paused",
        LAUNCH_ENDED,
        live=True,
        started_at_primary="2026-01-01T12:40:00.000Z",
        finished_at_primary="2026-01-01T12:30:00.000Z",
    )
    (resume,) = plan.changes
    assert resume.body["status"] == "live" and resume.reason.startswith("stream(s) back")


def test_a_stream_deactivated_by_this_run_never_pauses_its_show() -> None:
    """Found by the lifecycle machine: the drop that deactivation itself causes is no
    interruption once the stream is inactive, so pausing now would flap back next run."""
    plan = reused(
        "live",
        LAUNCH_ENDED,
        started_at_primary="2026-01-01T12:00:00.000Z",
        finished_at_primary="2026-01-01T12:30:00.000Z",
    )
    assert [c.body["status"] for c in plan.changes] == ["paused"]
    cam = stream(
        1,
        owner=marker("cam", broadcasts={"encore": 51}, live_after={"encore": LAUNCH_ENDED}),
        active=True,
        started_at_primary="2026-01-01T12:00:00.000Z",
        finished_at_primary="2026-01-01T12:30:00.000Z",
    )
    d = desired(
        [dstream("cam", active=False)],
        [dbroadcast("encore", ["cam"], status="live", pause_on_interruption=True)],
    )
    plan = compute_plan(d, live(cam, broadcast(51, "encore", [1], status="live")))
    assert [c.action for c in plan.changes] == [Action.DEACTIVATE]


def test_a_stream_this_run_activates_restarts_the_evidence() -> None:
    """Inactive, it gave no evidence: activating it records its last event again, so a show
    whose encoder is gone is waiting, not interrupted, after the run."""
    dropped = "2026-01-01T12:30:00.000Z"
    cam = stream(
        1,
        owner=marker("cam", broadcasts={"encore": 51}, live_after={"encore": LAUNCH_ENDED}),
        active=False,
        started_at_primary="2026-01-01T12:00:00.000Z",
        finished_at_primary=dropped,
    )
    d = desired(
        [dstream("cam", active=True)],
        [dbroadcast("encore", ["cam"], status="live", pause_on_interruption=True)],
    )
    plan = compute_plan(d, live(cam, broadcast(51, "encore", [1], status="live")))
    update, activate = plan.changes
    assert written_marker(update).live_after == {"encore": dropped}
    assert activate.action is Action.ACTIVATE


def test_a_move_keeps_the_broadcast_recorded_where_it_is_until_apply_moved_it() -> None:
    """Regression (found by the lifecycle state machine): the plan dropped the entry of the
    stream a broadcast leaves before the move; with the move held (its stream on air), the only
    marker left recorded it on a stream it did not use, so the next run no longer saw it as ours
    and created it again."""
    a = stream(1, owner=marker("a", broadcasts={"show": 50}), active=True, live=True)
    b = stream(2, owner=marker("b"), active=True)
    d = desired([dstream("a"), dstream("b")], [dbroadcast("show", ["b"], status="live")])
    plan = compute_plan(d, live(a, b, broadcast(50, "show", [1], status="live")))
    markers = {c.key: written_marker(c).broadcasts for c in plan.changes if c.key == "b"}
    assert markers == {"b": {"show": 50}}  # recorded where it goes (ignored until it is there)
    assert not [c for c in plan.changes if c.key == "a"]  # and kept where it is
    (move,) = [c for c in plan.changes if c.resource is Resource.BROADCAST]
    assert move.stream_refs == ("b",)


def test_two_shows_declared_up_on_one_stream_are_warned() -> None:
    d = desired(
        [dstream("cam"), dstream("spare")],
        [
            dbroadcast("a-show", ["cam"], status="live"),
            dbroadcast("b-show", ["cam", "spare"], status="paused"),
            dbroadcast("c-show", ["spare"], status="finished"),
        ],
    )
    plan = compute_plan(d, live())
    assert [w for w in plan.warnings if "declared live or paused" in w] == [
        "broadcasts 'a-show', 'b-show' are all declared live or paused on stream 'cam': they "
        "show the same encoder at once; declare the one that is over finished (the next one "
        "then waits for it)"
    ]
