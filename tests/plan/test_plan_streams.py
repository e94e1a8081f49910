"""Planner rules for streams: ownership, declared-field diffs, lifecycle, recording, prune and
adoption."""

from __future__ import annotations

import json

import pytest
from plan_fixtures import SET, desired, dstream, live, lock_stream, marker, stream

from reconciler.errors import MarkerTooLarge, PlanError
from reconciler.model.changes import Action, FieldDiff, Stage
from reconciler.model.marker import decode_entity_data
from reconciler.plan.compute import PlanOptions, compute_plan


def only(plan, action):  # type: ignore[no-untyped-def]
    found = [c for c in plan.changes if c.action is action]
    assert len(found) == 1, plan.changes
    return found[0]


def test_empty_manifests_against_an_empty_account_plan_nothing() -> None:
    plan = compute_plan(desired(), live())
    assert plan.is_empty and not plan.warnings and not plan.notes


def test_create_is_inactive_with_our_marker_then_activated() -> None:
    plan = compute_plan(desired([dstream("studio", active=True, dvr_enabled=True)]), live())
    create, activate = plan.changes
    assert (create.action, create.stage) == (Action.CREATE, Stage.CREATE_STREAMS)
    assert create.body["active"] is False and create.body["dvr_enabled"] is True
    data = decode_entity_data(create.body["client_entity_data"])
    assert data.marker == marker("studio")
    assert create.diffs == (
        FieldDiff("add", "/name", None, "studio"),
        FieldDiff("add", "/active", None, True),
        FieldDiff("add", "/dvr_enabled", None, True),
    )
    assert (activate.action, activate.stage) == (Action.ACTIVATE, Stage.ACTIVATE_STREAMS)
    assert activate.body == {"active": True, "name": "studio"}
    assert activate.depends_on == (create.id,)


def test_create_keeps_the_users_entity_data_beside_the_marker() -> None:
    plan = compute_plan(desired([dstream("s", user={"team": "news"})]), live())
    body = json.loads(only(plan, Action.CREATE).body["client_entity_data"])
    assert body == {"team": "news", "reconciler": {"set": SET, "key": "s"}}


def test_converged_stream_plans_nothing_even_when_server_fields_differ() -> None:
    state = live(stream(1, owner=marker("s"), dvr_enabled=True, quality_set_id=7, uri="x"))
    assert compute_plan(desired([dstream("s", dvr_enabled=True)]), state).is_empty


def test_declared_field_drift_is_a_patch_of_that_field_with_name() -> None:
    state = live(stream(1, owner=marker("s"), dvr_duration=600, auto_record=True))
    plan = compute_plan(desired([dstream("s", dvr_duration=7200)]), state)
    update = only(plan, Action.UPDATE)
    assert update.target_id == 1 and update.stage is Stage.UPDATE_STREAMS
    assert update.body == {"name": "s", "dvr_duration": 7200}
    assert update.diffs == (FieldDiff("replace", "/dvr_duration", 600, 7200),)


def test_bool_and_int_are_different_values() -> None:
    state = live(stream(1, owner=marker("s"), client_user_id=True))
    plan = compute_plan(desired([dstream("s", client_user_id=1)]), state)
    assert only(plan, Action.UPDATE).body == {"name": "s", "client_user_id": 1}


def test_entity_data_compared_as_json_not_text() -> None:
    text = '{ "team": "news",\n "reconciler": {"key": "s", "set": "prod"} }'
    state = live(stream(1, "s", entity=text))
    assert compute_plan(desired([dstream("s", user={"team": "news"})]), state).is_empty


def test_declared_user_data_change_diffs_inside_client_entity_data() -> None:
    state = live(stream(1, owner=marker("s"), user={"team": "news", "x": 1}))
    plan = compute_plan(desired([dstream("s", user={"team": "sport"})]), state)
    update = only(plan, Action.UPDATE)
    assert set(update.diffs) == {
        FieldDiff("replace", "/client_entity_data/team", "news", "sport"),
        FieldDiff("remove", "/client_entity_data/x", 1, None),
    }
    sent = json.loads(update.body["client_entity_data"])
    assert sent == {"team": "sport", "reconciler": {"set": SET, "key": "s"}}


def test_undeclared_user_data_is_left_as_it_is() -> None:
    state = live(stream(1, owner=marker("s"), user={"added_by": "ops"}))
    assert compute_plan(desired([dstream("s")]), state).is_empty


def test_active_changes_are_lifecycle_actions_not_updates() -> None:
    state = live(stream(1, owner=marker("a")), stream(2, owner=marker("b"), active=True))
    plan = compute_plan(desired([dstream("a", active=True), dstream("b", active=False)]), state)
    assert [(c.key, c.action, c.stage) for c in plan.changes] == [
        ("a", Action.ACTIVATE, Stage.ACTIVATE_STREAMS),
        ("b", Action.DEACTIVATE, Stage.DEACTIVATE_STREAMS),
    ]
    assert plan.changes[1].body == {"active": False, "name": "b"}


def test_region_change_is_an_in_place_patch() -> None:
    state = live(stream(1, owner=marker("s"), transcoding_region="ix1"))
    plan = compute_plan(desired([dstream("s", transcoding_region="dt1")]), state)
    assert [c.action for c in plan.changes] == [Action.UPDATE]
    assert plan.changes[0].diffs == (FieldDiff("replace", "/transcoding_region", "ix1", "dt1"),)


def test_activation_waits_for_the_update_of_the_same_stream() -> None:
    state = live(stream(1, owner=marker("s"), transcoding_region="ix1"))
    plan = compute_plan(desired([dstream("s", active=True, transcoding_region="dt1")]), state)
    assert only(plan, Action.ACTIVATE).depends_on == ("stream/s/update",)


@pytest.mark.parametrize(
    ("wanted", "on_air", "recording", "expected"),
    [
        (True, {"live": True}, False, Action.START_RECORDING),
        (True, {"backup_live": True}, False, Action.START_RECORDING),
        (False, {"live": True}, True, Action.STOP_RECORDING),
        (None, {"live": True}, True, None),
        (None, {"live": True}, False, None),
        (True, {"live": True}, True, None),
        (False, {}, False, None),
    ],
)
def test_recording_follows_the_declared_state(
    wanted: bool | None, on_air: dict[str, bool], recording: bool, expected: Action | None
) -> None:
    state = live(stream(1, owner=marker("s"), active=True, recording=recording, **on_air))
    plan = compute_plan(desired([dstream("s", recording=wanted)]), state)
    assert [c.action for c in plan.changes] == ([expected] if expected else [])
    if expected is Action.START_RECORDING:
        assert plan.changes[0].stage is Stage.START_RECORDING
    if expected is Action.STOP_RECORDING:
        assert plan.changes[0].stage is Stage.STOP_RECORDING


def test_recording_of_a_stream_without_encoder_is_a_warning() -> None:
    state = live(stream(1, owner=marker("s"), active=True))
    plan = compute_plan(desired([dstream("s", recording=True)]), state)
    assert plan.is_empty
    assert plan.warnings == (
        "stream 's': recording requested; it starts when an encoder is connected",
    )


def test_start_recording_waits_for_activation() -> None:
    state = live(stream(1, owner=marker("s"), live=True))  # pushing to an inactive stream
    plan = compute_plan(desired([dstream("s", active=True, recording=True)]), state)
    assert only(plan, Action.START_RECORDING).depends_on == ("stream/s/activate",)


def test_unmarked_stream_with_the_same_name_is_never_taken_over() -> None:
    state = live(stream(1, "studio"), stream(2, owner=marker("studio", set_name="other")))
    plan = compute_plan(desired([dstream("studio")]), state)
    assert [(c.action, c.target_id) for c in plan.changes] == [(Action.CREATE, None)]


def test_lock_streams_are_not_resources() -> None:
    state = live(lock_stream(5), stream(6, owner=marker("gone")))
    plan = compute_plan(desired(), state)
    assert [(c.action, c.target_id) for c in plan.changes] == [(Action.DELETE, 6)]


def test_prune_deletes_owned_streams_that_left_the_manifests() -> None:
    state = live(stream(1, owner=marker("keep")), stream(2, owner=marker("old")), stream(3))
    plan = compute_plan(desired([dstream("keep")]), state)
    delete = only(plan, Action.DELETE)
    assert (delete.key, delete.target_id, delete.stage) == ("old", 2, Stage.DELETE_STREAMS)


def test_prune_off_by_settings_or_option() -> None:
    state = live(stream(2, owner=marker("old")))
    assert compute_plan(desired(prune=False), state).is_empty
    assert compute_plan(desired(), state, PlanOptions(prune=False)).is_empty
    assert not compute_plan(desired(prune=False), state, PlanOptions(prune=True)).is_empty


def test_protected_stream_survives_removal_with_a_note() -> None:
    state = live(stream(2, owner=marker("old", protect=True)))
    plan = compute_plan(desired(), state)
    assert plan.is_empty
    assert plan.notes == ("stream 'old' (id 2): kept: protected (removed from the manifests)",)


def test_orphan_policy_releases_the_stream_keeping_user_data() -> None:
    state = live(stream(2, "Old show", owner=marker("old", orphan=True), user={"team": "news"}))
    plan = compute_plan(desired(), state)
    orphan = only(plan, Action.ORPHAN)
    assert (orphan.target_id, orphan.stage) == (2, Stage.RELEASE_STREAMS)
    assert orphan.body == {
        "name": "Old show",
        "client_entity_data": '{"reconciler":{"released_by":"prod"},"team":"news"}',
    }


def test_policy_flags_are_written_into_the_marker() -> None:
    state = live(stream(1, owner=marker("s")))
    plan = compute_plan(desired([dstream("s", protect=True)]), state)
    written = decode_entity_data(only(plan, Action.UPDATE).body["client_entity_data"])
    assert written.marker == marker("s", protect=True)
    assert only(plan, Action.UPDATE).reason == "ownership marker out of date"


def test_duplicate_markers_keep_the_lowest_id_and_touch_nothing_else() -> None:
    state = live(stream(9, owner=marker("s"), dvr_enabled=True), stream(4, owner=marker("s")))
    plan = compute_plan(desired([dstream("s", dvr_enabled=True)]), state)
    assert [(c.action, c.target_id) for c in plan.changes] == [(Action.UPDATE, 4)]
    assert "#4 is managed, #9 left untouched" in plan.warnings[0]
    pruned = compute_plan(desired(), state)
    assert [(c.action, c.target_id) for c in pruned.changes] == [(Action.DELETE, 4)]


def test_explicit_adoption_writes_our_marker_and_declared_fields() -> None:
    state = live(stream(7, "Lobby", dvr_enabled=False, entity='{"crm": 12}'))
    plan = compute_plan(desired([dstream("lobby", adopt_id=7, dvr_enabled=True)]), state)
    adopt = only(plan, Action.ADOPT)
    assert (adopt.target_id, adopt.stage) == (7, Stage.UPDATE_STREAMS)
    assert adopt.body["name"] == "lobby" and adopt.body["dvr_enabled"] is True
    written = decode_entity_data(adopt.body["client_entity_data"])
    assert written.marker == marker("lobby") and written.user_data == {"crm": 12}


def test_adoption_is_skipped_once_the_stream_is_ours() -> None:
    state = live(stream(7, owner=marker("lobby")))
    assert compute_plan(desired([dstream("lobby", adopt_id=7)]), state).is_empty


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ((), "no stream with this id"),
        ((stream(7, owner=marker("x", set_name="other")),), "belongs to manifest set 'other'"),
        ((stream(7, owner=marker("other-key")),), "already managed by this set as 'other-key'"),
        ((stream(7, entity="free text"),), "not a JSON object"),
        ((lock_stream(7),), "lock stream"),
    ],
)
def test_adoption_conflicts_are_plan_errors(objects: tuple[dict, ...], message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PlanError, match=message) as caught:
        compute_plan(desired([dstream("lobby", adopt_id=7)]), live(*objects))
    assert caught.value.problems[0].startswith("stream 'lobby': adopt_id 7: ")


def test_every_adoption_conflict_is_reported_at_once() -> None:
    plan_desired = desired([dstream("a", adopt_id=70), dstream("b", adopt_id=71)])
    with pytest.raises(PlanError) as caught:
        compute_plan(plan_desired, live())
    assert len(caught.value.problems) == 2


def test_marker_too_large_fails_clearly() -> None:
    with pytest.raises(MarkerTooLarge, match="4096"):
        compute_plan(desired([dstream("s", user={"blob": "x" * 5000})]), live())


def test_declared_null_matches_a_field_the_server_leaves_out() -> None:
    state = live(stream(1, owner=marker("s")))
    del state.streams[0].raw["cdn_id"]
    assert compute_plan(desired([dstream("s", cdn_id=None)]), state).is_empty
    (update,) = compute_plan(desired([dstream("s", cdn_id=3)]), state).changes
    assert update.diffs == (FieldDiff("add", "/cdn_id", None, 3),)


def test_a_region_the_account_does_not_report_is_not_compared_and_says_so() -> None:
    # The current Gcore API has no transcoding_region (API-FACTS §5): no perpetual PATCH.
    cam = stream(1, owner=marker("cam"))
    cam.pop("transcoding_region", None)
    plan = compute_plan(desired([dstream("cam", transcoding_region="ix1")], []), live(cam))
    assert plan.changes == ()
    assert plan.warnings == (
        "stream 'cam': the account does not report transcoding_region, so it cannot be compared; "
        "it is sent only when the stream is created (ingest regions are chosen by the platform)",
    )


def test_a_reported_region_is_compared() -> None:
    cam = stream(1, owner=marker("cam"), transcoding_region="ed2")
    plan = compute_plan(desired([dstream("cam", transcoding_region="ix1")], []), live(cam))
    (update,) = plan.changes
    assert update.body == {"name": "cam", "transcoding_region": "ix1"}


def test_stopping_a_recording_waits_for_nothing() -> None:
    """Stopping a recording cuts nobody (issue 8 item 4): planned while on air, with no dependency
    and before any other stage, so a held change elsewhere never keeps a recording running."""
    state = live(stream(1, owner=marker("s"), active=True, live=True, recording=True))
    plan = compute_plan(desired([dstream("s", active=False, recording=False)]), state)
    stop, off = plan.changes
    assert (stop.action, stop.depends_on, stop.stage) == (
        Action.STOP_RECORDING,
        (),
        Stage.STOP_RECORDING,
    )
    assert off.action is Action.DEACTIVATE and off.stage > stop.stage


def test_recording_false_against_the_accounts_auto_record_is_a_warning() -> None:
    state = live(stream(1, owner=marker("s"), active=True, auto_record=True))
    plan = compute_plan(desired([dstream("s", recording=False)]), state)
    assert plan.is_empty
    assert plan.warnings == (
        "stream 's': recording: false while the account's auto_record is on: each new session "
        "starts a recording that the next apply stops; declare auto_record: false",
    )


def test_recording_false_with_auto_record_turned_off_in_the_same_run_is_no_warning() -> None:
    # The warning's own advice, taken: `auto_record: false` is declared and this run sends it.
    state = live(stream(1, owner=marker("s"), active=True, auto_record=True))
    plan = compute_plan(desired([dstream("s", recording=False, auto_record=False)]), state)
    assert plan.warnings == ()
    assert [(c.action, c.body.get("auto_record")) for c in plan.changes] == [(Action.UPDATE, False)]
