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
