"""A small pure model of `apply` for planner property tests: executes a plan's changes against a
`LiveState` as the contract in docs/planning.md describes (bodies merged, stream_refs resolved,
broadcast ids recorded in and forgotten from our markers). Not the real apply."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from plan_fixtures import broadcast, stream

from reconciler.model.changes import Action, Change, Plan, Resource
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, decode_entity_data, encode_entity_data
from reconciler.plan.compute import owned_stream_ids


def fake_apply(plan: Plan, state: LiveState, set_name: str) -> LiveState:
    streams = {s.id: dict(s.raw) for s in state.streams}
    broadcasts = {b.id: dict(b.raw) for b in state.broadcasts}
    ids = owned_stream_ids(state, set_name)
    created: dict[tuple[str, str], int] = {}
    next_id = max([*streams, *broadcasts, 999]) + 1

    def target(change: Change) -> int:
        if change.target_id is not None:
            return change.target_id
        return created[(change.resource, change.key)]

    def edit_marker(sid: int, edit: Any) -> None:
        data = decode_entity_data(streams[sid].get("client_entity_data"))
        if data.marker is None:
            return
        streams[sid]["client_entity_data"] = encode_entity_data(edit(data.marker), data.user_data)

    def record(stream_ids: list[int], key: str, bid: int) -> None:
        for sid in stream_ids:
            if sid in streams:
                edit_marker(
                    sid,
                    lambda m: replace(
                        m,
                        broadcasts={**m.broadcasts, key: bid},
                        intents={k: v for k, v in m.intents.items() if k != key},
                    ),
                )

    def forget(bid: int, key: str, keep: set[int]) -> None:
        def drop(m: Marker) -> Marker:
            if bid not in m.broadcasts.values():
                return m
            return replace(
                m,
                broadcasts={k: v for k, v in m.broadcasts.items() if v != bid},
                protected_broadcasts=m.protected_broadcasts - {key},
                orphan_broadcasts=m.orphan_broadcasts - {key},
                live_after={k: v for k, v in m.live_after.items() if k != key},
            )

        for sid in list(streams):
            if sid not in keep:
                edit_marker(sid, drop)

    for change in plan.changes:
        if change.held is not None:
            continue
        body = dict(change.body)
        if change.resource is Resource.STREAM:
            if change.action is Action.CREATE:
                sid, next_id = next_id, next_id + 1
                streams[sid] = stream(sid, entity=body.pop("client_entity_data") or "", **body)
                created[(change.resource, change.key)] = sid
                ids[change.key] = sid
                continue
            sid = target(change)
            if change.action is Action.DELETE:
                del streams[sid]
                for b in broadcasts.values():
                    b["stream_ids"] = [s for s in b["stream_ids"] if s != sid]
            elif change.action is Action.START_RECORDING:
                streams[sid]["recording"] = True
            elif change.action is Action.STOP_RECORDING:
                streams[sid]["recording"] = False
            else:
                streams[sid].update(body)
                if change.action in (Action.ADOPT, Action.UPDATE):
                    ids[change.key] = sid
            continue
        refs = [ids[k] for k in change.stream_refs]
        if change.action is Action.CREATE:
            bid, next_id = next_id, next_id + 1
            broadcasts[bid] = broadcast(bid, body.pop("name"), refs, **body)
            created[(change.resource, change.key)] = bid
            record(refs, change.key, bid)
            continue
        bid = target(change)
        if change.action is Action.DELETE:
            del broadcasts[bid]
            forget(bid, change.key, set())
        elif change.action is Action.ORPHAN:
            forget(bid, change.key, set())
        else:
            broadcasts[bid].update(body)
            if change.stream_refs:
                broadcasts[bid]["stream_ids"] = refs
                record(refs, change.key, bid)
                forget(bid, change.key, set(refs))
    return LiveState.from_raw(streams.values(), broadcasts.values())
