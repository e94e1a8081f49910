"""The lifecycle state machine's finds (`test_lifecycle_machine.py`), each replayed as a plain
scenario on the in-process simulator through the real planner, guards and apply: what the user
sees after each apply, and that an apply that exits 0 is followed by an empty plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_lifecycle_machine as machine

from reconciler.apply.scheduler import apply_plan
from reconciler.model.changes import Plan
from reconciler.model.desired import DesiredBroadcast, DesiredStream
from reconciler.pipeline import RunOptions, held_only_report, plan_for, read_account

Lifecycle = machine.Lifecycle


@pytest.fixture
def world() -> Iterator[Lifecycle]:
    """The machine's account: show-x declared live and show-y pending, both on cam-a, each
    pausing on interruptions; cam-a and cam-b active, no encoder yet."""
    state = Lifecycle()
    yield state
    state.teardown()


def apply(world: Lifecycle) -> tuple[int, Plan]:
    """One apply as the CLI runs it; its exit code and the plan a run right after it shows."""
    desired = world.desired()
    live = read_account(world.api)
    plan = plan_for(desired, live, world.api, RunOptions())
    if plan.pending:
        report = apply_plan(plan, world.api, live, workers=4, set_name=machine.SET)
    else:
        report = held_only_report(plan)
    again = plan_for(desired, read_account(world.api), world.api, RunOptions())
    world.tick()
    return report.exit_code, again


def encoder(world: Lifecycle, key: str, connected: bool) -> None:
    sid = world.stream_id(key)
    assert sid is not None
    (world.sim.connect if connected else world.sim.disconnect)(sid)
    world.tick(1)


def show(world: Lifecycle, key: str) -> tuple[str, list[str]]:
    """(status, stream keys) of a show as the platform has it."""
    bid = world.broadcast_id(key)
    assert bid is not None
    found = world.api.get_broadcast(bid)
    names = {world.stream_id(s): s for s in machine.STREAMS}
    return found["status"], [names[sid] for sid in found["stream_ids"]]


def test_a_show_moved_once_both_streams_dropped_is_not_paused_by_the_stream_it_leaves(
    world: Lifecycle,
) -> None:
    """Found by the state machine: the move of live show-x from cam-a to cam-b was held while
    cam-a was on air; once both encoders dropped, the apply moved it and paused it, and the next
    plan wanted it live again ("stream(s) back: end of interruption") though no encoder had
    come back. On cam-b its time on air starts at the move: it waits for an encoder there, and
    only a drop on cam-b since pauses it."""
    code, again = apply(world)
    assert (code, again.changes) == (0, ())
    world.declare_streams(show="show-x", uses=("cam-b",))
    encoder(world, "cam-a", connected=True)
    encoder(world, "cam-b", connected=True)
    code, _ = apply(world)
    assert code == 3  # moving it off cam-a, on air, waits
    assert show(world, "show-x") == ("live", ["cam-a"])

    encoder(world, "cam-b", connected=False)
    encoder(world, "cam-a", connected=False)
    code, again = apply(world)
    assert code == 0
    assert show(world, "show-x") == ("live", ["cam-b"])
    assert again.changes == ()  # moved onto cam-b, down: it waits for an encoder there
    assert again.warnings == (
        "broadcast 'show-x' is declared live; no encoder has connected to its stream(s) "
        "'cam-b' yet",
    )

    # Its own time on air on cam-b: paused when cam-b drops, live again when it returns.
    encoder(world, "cam-b", connected=True)
    assert apply(world)[0] == 0
    encoder(world, "cam-b", connected=False)
    code, again = apply(world)
    assert (code, again.changes) == (0, ())
    assert show(world, "show-x") == ("paused", ["cam-b"])
    encoder(world, "cam-b", connected=True)
    code, again = apply(world)
    assert (code, again.changes) == (0, ())
    assert show(world, "show-x") == ("live", ["cam-b"])


def test_a_show_set_live_on_an_adopted_stream_is_not_paused_by_the_sessions_before_it(
    world: Lifecycle,
) -> None:
    """A stream made by hand, whose encoder came and went before, adopted with a new show
    declared live on it: the apply recorded the show's evidence as if the stream never had an
    ingest event (the stream was not ours yet), so the next plan paused a show no encoder had
    reached ("stream(s) down: interruption")."""
    studio = world.api.create_stream({"name": "studio", "active": True})
    world.sim.connect(studio["id"])
    world.tick(5)
    world.sim.disconnect(studio["id"])
    world.tick(5)
    world.streams = {
        "studio": DesiredStream(
            key="studio", fields={"name": "studio", "active": True}, adopt_id=studio["id"]
        )
    }
    world.shows = {
        "show": DesiredBroadcast(
            key="show",
            fields={"name": "show", "status": "live"},
            stream_keys=("studio",),
            pause_on_interruption=True,
        )
    }
    code, again = apply(world)
    assert (code, again.changes) == (0, ())
    assert again.warnings == (
        "broadcast 'show' is declared live; no encoder has connected to its stream(s) 'studio' yet",
    )
    bid = world.broadcast_id("show")
    assert bid is not None
    assert world.api.get_broadcast(bid)["status"] == "live"

    # Its own session: paused when the encoder drops, live again when it returns.
    world.sim.connect(studio["id"])
    world.tick(5)
    assert apply(world)[0] == 0
    world.sim.disconnect(studio["id"])
    world.tick(5)
    code, again = apply(world)
    assert (code, again.changes) == (0, ())
    assert world.api.get_broadcast(bid)["status"] == "paused"
