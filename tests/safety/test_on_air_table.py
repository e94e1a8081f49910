"""The one table of what is held while on air (issue 8 item 5), row by row: held = delete,
deactivate, ingest fields, an on-air broadcast leaving live/paused (to pending or finished, or
deleted), an on-air stream removed from an on-air broadcast; applied = recording start/stop,
metadata, anything on objects not on air."""

from __future__ import annotations

import pytest
from safety_factories import (
    change,
    desired_broadcast,
    desired_state,
    desired_stream,
    live_broadcast,
    live_state,
    live_stream,
)

from reconciler.model.changes import Action, Change, FieldDiff, Plan, Resource
from reconciler.safety.guards import apply_guards

S, B = Resource.STREAM, Resource.BROADCAST


def held(one: Change, *, on_air: bool = True, status: str = "live") -> str | None:
    state = live_state(
        [
            live_stream(7, "cam", key="cam", live=on_air, recording=on_air),
            live_stream(8, "spare", key="spare"),
        ],
        [live_broadcast(3, "show", [7], status)],
    )
    desired = desired_state(
        [desired_stream("cam"), desired_stream("spare")], [desired_broadcast("show", ("cam",))]
    )
    (out,) = apply_guards(Plan(changes=(one,)), desired, state).changes
    return out.held


def field(name: str, before: object, after: object) -> Change:
    return change(
        S, "cam", Action.UPDATE, 7, diffs=(FieldDiff("replace", f"/{name}", before, after),)
    )


def status(to: str) -> Change:
    return change(B, "show", Action.SET_STATUS, 3, body={"status": to})


def streams(*keys: str) -> Change:
    """A move as the planner writes it: the keys, and the ids of those that exist."""
    ids = tuple({"cam": 7, "spare": 8}[k] for k in keys)
    return change(B, "show", Action.UPDATE, 3, stream_refs=keys, existing_stream_ids=ids)


HELD = {
    "delete stream": (change(S, "cam", Action.DELETE, 7), "deleting it waits"),
    "cleanup": (change(S, "cam", Action.CLEANUP, 7), "deleting it waits"),
    "deactivate": (change(S, "cam", Action.DEACTIVATE, 7), "deactivating it waits"),
    "active false": (field("active", True, False), "deactivation waits"),
    "region": (field("transcoding_region", "ix1", "dt1"), "region change ix1 -> dt1"),
    "pull": (field("pull", False, True), "ingest change (pull)"),
    "uri": (field("uri", "a", "b"), "ingest change (uri)"),
    "srt_passphrase": (field("srt_passphrase", "x" * 10, "y" * 10), "ingest change (srt_pass"),
    "broadcast finished": (status("finished"), "finishing it waits"),
    "broadcast pending": (status("pending"), "taking it back to pending waits"),
    "broadcast deleted": (change(B, "show", Action.DELETE, 3), "deleting it waits"),
    "broadcast moved": (streams("spare"), "moving it off that stream waits"),
}

APPLIED = {
    "start recording": change(S, "cam", Action.START_RECORDING, 7),
    "stop recording": change(S, "cam", Action.STOP_RECORDING, 7),
    "name": field("name", "a", "b"),
    "dvr": field("dvr_duration", 60, 120),
    "broadcast message": change(
        B, "show", Action.UPDATE, 3, diffs=(FieldDiff("replace", "/pending_message", "a", "b"),)
    ),
    "broadcast paused": status("paused"),
    "broadcast gains a stream": streams("cam", "spare"),
}


@pytest.mark.parametrize("name", sorted(HELD))
def test_held_while_on_air(name: str) -> None:
    one, reason = HELD[name]
    assert reason in str(held(one))


@pytest.mark.parametrize("name", sorted(HELD))
def test_applied_when_nothing_is_on_air(name: str) -> None:
    one, _reason = HELD[name]
    assert held(one, on_air=False) is None


@pytest.mark.parametrize("name", sorted(APPLIED))
def test_applied_while_on_air(name: str) -> None:
    assert held(APPLIED[name]) is None


@pytest.mark.parametrize("to", ["finished", "pending"])
def test_a_broadcast_that_is_not_up_is_not_on_air(to: str) -> None:
    """A pending broadcast on a live stream shows nobody the stream: finishing it cuts nobody."""
    assert held(status(to), status="pending") is None
    assert held(change(B, "show", Action.DELETE, 3), status="finished") is None
