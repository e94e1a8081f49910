"""`policy.go_live: when_on_air` (issue 11, the tutorial's steps 4-5): a broadcast declared `live`
stays `pending` until one of its streams is on air, then goes live; while it waits the plan has a
note and no change (so it converges)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from plan_fixtures import broadcast, dbroadcast, desired, dstream, live, marker, stream

from reconciler.model.changes import Action
from reconciler.model.desired import GoLive
from reconciler.plan.compute import compute_plan

NOTE = (
    "broadcast 'show' waits for an encoder on its stream(s) 'cam' (go_live: when_on_air): "
    "pending until one is on air"
)


def when_on_air(**fields: Any):  # type: ignore[no-untyped-def]
    return replace(dbroadcast("show", ["cam"], **fields), go_live=GoLive.WHEN_ON_AIR)


def test_a_new_broadcast_is_created_pending_and_waits() -> None:
    plan = compute_plan(
        desired([dstream("cam", active=True)], [when_on_air(status="live")]), live()
    )
    assert [(c.resource.value, c.action) for c in plan.changes] == [
        ("stream", Action.CREATE),
        ("broadcast", Action.CREATE),
        ("stream", Action.ACTIVATE),
    ]
    assert plan.changes[1].body["status"] == "pending"
    assert plan.notes == (NOTE,)


def owned(status: str, *, on_air: bool) -> Any:
    cam = stream(1, owner=marker("cam", broadcasts={"show": 50}), active=True, live=on_air)
    return live(cam, broadcast(50, "show", [1], status=status))


def test_while_no_encoder_is_connected_the_plan_is_empty_with_a_note() -> None:
    d = desired([dstream("cam", active=True)], [when_on_air(status="live")])
    plan = compute_plan(d, owned("pending", on_air=False))
    assert plan.is_empty and plan.notes == (NOTE,) and plan.warnings == ()


def test_it_goes_live_once_a_stream_is_on_air() -> None:
    d = desired([dstream("cam", active=True)], [when_on_air(status="live")])
    plan = compute_plan(d, owned("pending", on_air=True))
    go_live = next(c for c in plan.changes if c.action is Action.SET_STATUS)
    assert go_live.body["status"] == "live" and plan.notes == ()


def test_once_live_it_stays_live_when_the_stream_drops() -> None:
    d = desired([dstream("cam", active=True)], [when_on_air(status="live")])
    assert compute_plan(d, owned("live", on_air=False)).is_empty


def test_without_the_policy_it_goes_live_at_once() -> None:
    d = desired([dstream("cam", active=True)], [dbroadcast("show", ["cam"], status="live")])
    plan = compute_plan(d, owned("pending", on_air=False))
    assert any(c.body.get("status") == "live" for c in plan.changes)
