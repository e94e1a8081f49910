"""The text plan lists a broadcast's streams exactly once: under a create, or as the diff of an
update (never both)."""

from __future__ import annotations

from reconciler.model.changes import Action, Change, FieldDiff, Plan, Resource, Stage
from reconciler.model.marker import Marker, encode_entity_data
from reconciler.render.formats import render_plan


def test_a_created_broadcast_lists_its_streams() -> None:
    create = Change(
        Resource.BROADCAST,
        "show",
        Action.CREATE,
        Stage.CREATE_BROADCASTS,
        title="Show",
        body={"name": "Show", "status": "pending"},
        stream_refs=("cam-a", "cam-b"),
    )
    text = render_plan(Plan(changes=(create,)), "text", color=False)
    assert text.count("streams: cam-a, cam-b") == 1


def test_an_updated_broadcast_shows_its_streams_once_as_a_diff() -> None:
    update = Change(
        Resource.BROADCAST,
        "show",
        Action.UPDATE,
        Stage.UPDATE_BROADCASTS,
        target_id=5,
        title="Show",
        diffs=(FieldDiff("replace", "/streams", ["cam-a"], ["cam-a", "cam-b"]),),
        body={"name": "Show"},
        stream_refs=("cam-a", "cam-b"),
    )
    text = render_plan(Plan(changes=(update,)), "text", color=False)
    assert text.count("cam-b") == 1
    assert "streams: " in text


def test_a_created_stream_shows_the_users_client_entity_data_not_our_marker() -> None:
    marker = Marker(set_name="tutorial", key="studio-a")
    with_user = encode_entity_data(marker, {"team": "tutorial"})
    cameras = [
        Change(
            Resource.STREAM,
            key,
            Action.CREATE,
            Stage.CREATE_STREAMS,
            title=key,
            body={"name": key, "client_entity_data": text},
        )
        for key, text in (("studio-a", with_user), ("studio-b", encode_entity_data(marker, None)))
    ]
    text = render_plan(Plan(changes=tuple(cameras)), "text", color=False)
    assert text.count("client_entity_data: ") == 1  # studio-b has nothing of the user's
    assert '      client_entity_data: {"team": "tutorial"}\n' in text
    assert "reconciler" not in text


def stream_update(*diffs: FieldDiff) -> Plan:
    update = Change(
        Resource.STREAM,
        "studio-a",
        Action.UPDATE,
        Stage.UPDATE_STREAMS,
        target_id=7,
        title="Studio A",
        diffs=diffs,
        body={"name": "Studio A"},
        reason="drift",
    )
    return Plan(changes=(update,))


def test_an_update_folds_our_marker_entries_into_one_line() -> None:
    # The tutorial's reuse in another region: the user's change, then our bookkeeping.
    plan = stream_update(
        FieldDiff("replace", "/transcoding_region", "ix1", "dt1"),
        FieldDiff("add", "/client_entity_data/reconciler/live_after/encore-show", None, "T"),
        FieldDiff("remove", "/client_entity_data/reconciler/broadcasts/old", 5, None),
        FieldDiff("replace", "/client_entity_data/team", "a", "b"),
    )
    text = render_plan(plan, "text", color=False)
    assert text == (
        '~ stream studio-a "Studio A" (id 7)\n'
        '      transcoding_region: "ix1" -> "dt1"\n'
        '      client_entity_data.team: "a" -> "b"\n'
        "      client_entity_data.reconciler: updated (our marker)\n"
        "      # drift\n"
        "\n"
        "Plan: 0 to create, 1 to update, 0 to delete, 0 actions, 0 held.\n"
    )
    as_json = render_plan(plan, "json", color=False)
    assert "/client_entity_data/reconciler/live_after/encore-show" in as_json


def test_a_whole_client_entity_data_diff_shows_the_users_part_and_one_marker_line() -> None:
    # Text that was not JSON becomes the user's object beside our new marker.
    written = stream_update(
        FieldDiff("replace", "/client_entity_data", "legacy", {"reconciler": {"set": "s"}})
    )
    assert render_plan(written, "text", color=False).splitlines()[1:3] == [
        '      client_entity_data: "legacy" -> (removed)',
        "      client_entity_data.reconciler: written (our marker)",
    ]
    # An orphan removes our marker and keeps the user's part as it was.
    removed = stream_update(
        FieldDiff("replace", "/client_entity_data", {"reconciler": {"set": "s"}, "t": 1}, {"t": 1})
    )
    assert render_plan(removed, "text", color=False).splitlines()[1:3] == [
        "      client_entity_data.reconciler: removed (our marker)",
        "      # drift",
    ]
