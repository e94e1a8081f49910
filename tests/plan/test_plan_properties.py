"""Property tests of the planner: a matching state plans empty, applying a plan converges (next
plan empty) from random drift, and objects without our marker are never targets."""

from __future__ import annotations

import os
from typing import Any

from fake_apply import fake_apply
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_fixtures import (
    SET,
    broadcast,
    dbroadcast,
    desired,
    dstream,
    live,
    marker,
    stream,
)

from reconciler.model.changes import Action, Plan
from reconciler.model.desired import (
    DeletionPolicy,
    DesiredBroadcast,
    DesiredState,
    DesiredStream,
    ResourcePolicy,
    Settings,
)
from reconciler.model.live import LiveState
from reconciler.model.marker import decode_entity_data
from reconciler.plan.compute import compute_plan

STREAM_KEYS = ["a", "b", "c", "d"]
BROADCAST_KEYS = ["x", "y", "z"]
STATUSES = [None, "pending", "live", "paused", "finished"]

PROPS = settings(
    max_examples=int(os.environ.get("PLAN_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def desired_streams(draw: st.DrawFn) -> list[DesiredStream]:
    out = []
    for key in draw(st.lists(st.sampled_from(STREAM_KEYS), unique=True)):
        fields: dict[str, Any] = {}
        if draw(st.booleans()):
            fields["active"] = draw(st.booleans())
        if draw(st.booleans()):
            fields["dvr_duration"] = draw(st.integers(30, 14400))
        if draw(st.booleans()):
            fields["transcoding_region"] = draw(st.sampled_from(["ed2", "ix1", "dt1"]))
        user = draw(st.none() | st.fixed_dictionaries({"team": st.sampled_from(["n", "s"])}))
        policy = draw(st.sampled_from(["delete", "protect", "orphan"]))
        out.append(
            dstream(
                key,
                user=user,
                recording=draw(st.sampled_from([None, False, True])),
                protect=policy == "protect",
                orphan=policy == "orphan",
                **fields,
            )
        )
    return out


@st.composite
def desired_states(draw: st.DrawFn) -> DesiredState:
    streams = draw(desired_streams())
    keys = [s.key for s in streams]
    broadcasts: list[DesiredBroadcast] = []
    if keys:
        for key in draw(st.lists(st.sampled_from(BROADCAST_KEYS), unique=True)):
            used = draw(st.lists(st.sampled_from(keys), min_size=1, unique=True))
            fields: dict[str, Any] = {}
            status = draw(st.sampled_from(STATUSES))
            if status:
                fields["status"] = status
            if draw(st.booleans()):
                fields["share_url"] = draw(st.sampled_from(["", "https://x"]))
            policy = draw(st.sampled_from(["delete", "protect", "orphan"]))
            broadcasts.append(
                dbroadcast(
                    key, used, protect=policy == "protect", orphan=policy == "orphan", **fields
                )
            )
    return desired(streams, broadcasts, prune=draw(st.booleans()))


def foreign_objects() -> list[dict[str, Any]]:
    """Objects that are not ours: same names and keys as ours, to tempt the planner."""
    return [
        stream(500, "a"),
        stream(501, "b", entity="free text"),
        stream(502, owner=marker("a", set_name="other", broadcasts={"x": 600})),
        broadcast(600, "x", [502]),
        broadcast(601, "y", [500, 501]),
    ]


FOREIGN_IDS = {500, 501, 502, 600, 601}


def drift(draw: st.DrawFn, state: LiveState, *, damage: bool = True) -> LiveState:
    """Random changes behind our back: fields edited, statuses moved, broadcasts deleted or
    forgotten by their markers (as an interrupted run leaves them)."""
    streams = []
    for parsed in state.streams:
        s = dict(parsed.raw)
        if int(s["id"]) not in FOREIGN_IDS and draw(st.booleans()):
            s["dvr_duration"] = draw(st.integers(30, 14400))
            s["active"] = draw(st.booleans())
        streams.append(s)
    broadcasts = []
    for live_broadcast in state.broadcasts:
        b = live_broadcast.raw
        if int(b["id"]) in FOREIGN_IDS:
            broadcasts.append(b)
            continue
        fates = ["keep", "status", "delete"] if damage else ["keep", "status"]
        fate = draw(st.sampled_from(fates))
        if fate == "delete":
            continue
        b = dict(b)
        if fate == "status":
            b["status"] = draw(st.sampled_from(STATUSES[1:]))
        broadcasts.append(b)
    # An interrupted run: broadcasts created but not recorded in the markers.
    if damage and draw(st.booleans()):
        for s in streams:
            if int(s["id"]) not in FOREIGN_IDS:
                s["client_entity_data"] = s["client_entity_data"].replace('"broadcasts"', '"b_"')
    return LiveState.from_raw(streams, broadcasts)


def assert_well_formed(plan: Plan) -> None:
    """Foreign objects untouched; ids unique; sorted; every dependency planned at an earlier or
    the same stage (apply cannot wait for a later stage)."""
    by_id = {c.id: c for c in plan.changes}
    assert len(by_id) == len(plan.changes)
    order = [(c.stage, c.resource, c.key, c.action) for c in plan.changes]
    assert order == sorted(order)
    for change in plan.changes:
        assert change.target_id not in FOREIGN_IDS, change
        for dep in change.depends_on:
            assert by_id[dep].stage <= change.stage, (dep, change.id)


def converge(d: DesiredState, state: LiveState) -> LiveState:
    plan = compute_plan(d, state)
    assert_well_formed(plan)
    after = fake_apply(plan, state, SET)
    again = compute_plan(d, after)
    assert again.is_empty, again.changes
    return after


@PROPS
@given(d=desired_states())
def test_applying_a_plan_to_an_empty_account_converges(d: DesiredState) -> None:
    converge(d, live(*foreign_objects()))


@PROPS
@given(first=desired_states(), second=desired_states(), data=st.data())
def test_any_drift_converges_in_one_apply(
    first: DesiredState, second: DesiredState, data: st.DataObject
) -> None:
    state = converge(first, live(*foreign_objects()))
    state = drift(data.draw, state)
    after = converge(second, state)
    before = {o.id: o.raw for o in (*state.streams, *state.broadcasts)}
    now = {o.id: o.raw for o in (*after.streams, *after.broadcasts)}
    for oid in FOREIGN_IDS:
        assert now[oid] == before[oid]


def matching_state(d: DesiredState) -> LiveState:
    """A live account built directly to match the manifests (as a previous apply left it)."""
    sids = {key: 10 + i for i, key in enumerate(sorted(d.streams))}
    bids = {key: 100 + i for i, key in enumerate(sorted(d.broadcasts))}
    objects = []
    for key, want in d.streams.items():
        entries = {b: bids[b] for b, w in d.broadcasts.items() if key in w.stream_keys}
        owner = marker(
            key,
            broadcasts=entries,
            protect=want.policy.protect,
            orphan=want.policy.deletion == "orphan",
            protected_broadcasts=frozenset(b for b in entries if d.broadcasts[b].policy.protect),
            orphan_broadcasts=frozenset(
                b
                for b in entries
                if not d.broadcasts[b].policy.protect
                and d.broadcasts[b].policy.deletion == "orphan"
            ),
        )
        on_air = want.recording is True
        objects.append(
            stream(
                sids[key],
                owner=owner,
                user=want.user_entity_data,
                **{**dict(want.fields), "live": on_air, "recording": on_air},
            )
        )
    for key, want in d.broadcasts.items():
        fields = dict(want.fields)
        objects.append(
            broadcast(bids[key], fields.pop("name"), [sids[s] for s in want.stream_keys], **fields)
        )
    return live(*objects)


@PROPS
@given(d=desired_states())
def test_a_state_built_to_match_plans_empty(d: DesiredState) -> None:
    plan = compute_plan(d, matching_state(d))
    assert plan.is_empty, plan.changes


WRITABLE = ("name", "active", "dvr_duration", "transcoding_region", "auto_record")


def desired_from_live(state: LiveState) -> DesiredState:
    """What `export` would write for the owned objects of an account."""
    owned = {}
    for s in (parsed.raw for parsed in state.streams):
        found = decode_entity_data(s.get("client_entity_data"))
        if found.marker and found.marker.set_name == SET:
            owned.setdefault(found.marker.key, (s, found))
    streams = [
        DesiredStream(
            key=key,
            fields={f: s[f] for f in WRITABLE},
            user_entity_data=found.user_data,
            policy=ResourcePolicy(
                protect=found.marker.protect,
                deletion=DeletionPolicy.ORPHAN if found.marker.orphan else DeletionPolicy.DELETE,
            ),
        )
        for key, (s, found) in owned.items()
        if found.marker is not None
    ]
    keys = {int(s["id"]): key for key, (s, _) in owned.items()}
    recorded = {
        bid: (bkey, found.marker)
        for _, found in owned.values()
        if found.marker is not None
        for bkey, bid in found.marker.broadcasts.items()
    }
    broadcasts = []
    for b in (parsed.raw for parsed in state.broadcasts):
        if int(b["id"]) not in recorded or not b["stream_ids"]:
            continue
        if not all(int(i) in keys for i in b["stream_ids"]):
            continue
        bkey, m = recorded[int(b["id"])]
        broadcasts.append(
            DesiredBroadcast(
                key=bkey,
                fields={f: b[f] for f in ("name", "status", "share_url")},
                stream_keys=tuple(keys[int(i)] for i in b["stream_ids"]),
                policy=ResourcePolicy(
                    protect=bkey in m.protected_broadcasts,
                    deletion=DeletionPolicy.ORPHAN
                    if bkey in m.orphan_broadcasts
                    else DeletionPolicy.DELETE,
                ),
            )
        )
    return DesiredState(
        settings=Settings(set_name=SET, prune=False),
        streams={s.key: s for s in streams},
        broadcasts={b.key: b for b in broadcasts},
    )


@PROPS
@given(d=desired_states(), data=st.data())
def test_a_state_planned_against_itself_is_empty(d: DesiredState, data: st.DataObject) -> None:
    """The desired state read back from an account (as `export` does) plans empty against it."""
    state = fake_apply(compute_plan(d, live()), live(), SET)
    # Only edits: a deleted broadcast or a garbled marker is rightly repaired.
    state = drift(data.draw, state, damage=False)
    plan = compute_plan(desired_from_live(state), state)
    assert plan.is_empty, plan.changes


@PROPS
@given(d=desired_states(), data=st.data())
def test_unmarked_objects_are_never_updated_or_deleted(
    d: DesiredState, data: st.DataObject
) -> None:
    extra = [
        stream(700 + i, key, dvr_duration=data.draw(st.integers(30, 99)))
        for i, key in enumerate(STREAM_KEYS)
    ]
    extra += [broadcast(800 + i, key, [700 + i]) for i, key in enumerate(BROADCAST_KEYS)]
    plan = compute_plan(d, live(*foreign_objects(), *extra))
    foreign = FOREIGN_IDS | {int(o["id"]) for o in extra}
    for change in plan.changes:
        assert change.action is Action.CREATE or change.target_id not in foreign, change
