"""The broadcast side of the planner: which key manages each broadcast our markers record (from
the ownership index), which live broadcast each desired one is (owned, adopted by id, recovered
from an interrupted run, or to be created), the markers our streams should carry, and broadcast
changes.

Pure; knows nothing of the API client, guards or output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.model.changes import Action, Change, FieldDiff, Resource, Stage
from reconciler.model.desired import DesiredBroadcast, DesiredState, GoLive
from reconciler.model.live import LiveBroadcast, LiveState
from reconciler.model.marker import Marker
from reconciler.model.ownership import OwnedStream, Ownership
from reconciler.plan.diffing import changed_fields, creation_diffs, field_diffs
from reconciler.plan.interruption import dropped_since, never_on_air_since
from reconciler.plan.streams import Planned, StreamTarget

UP_STATUSES = ("pending", "live", "paused")
INTERRUPTED = "stream(s) down: interruption"


@dataclass(frozen=True)
class BroadcastIndex:
    by_id: Mapping[int, LiveBroadcast]
    owner: Mapping[int, str]  # live broadcast id -> our key (from the markers)
    ids_by_key: Mapping[str, tuple[int, ...]]  # our key -> live ids, lowest first
    recorders: Mapping[int, tuple[str, ...]]  # broadcast id -> keys of our streams listing it
    protected: frozenset[str]  # keys flagged protected in some marker
    orphaned: frozenset[str]  # keys flagged orphan in some marker
    by_name: Mapping[str, tuple[int, ...]]  # unclaimed broadcasts using only our streams
    warnings: tuple[str, ...]
    streamless: Mapping[str, tuple[int, ...]]  # by name: unclaimed broadcasts using no stream


def index_broadcasts(
    live: LiveState, streams: Ownership, desired_keys: frozenset[str]
) -> BroadcastIndex:
    """The planner's view of the broadcasts: which key manages each recorded one (a desired key
    first when several record it), and the unrecorded ones an interrupted run may have made."""
    by_id = live.broadcast_by_id
    owner: dict[int, str] = {}
    warnings = []
    for bid in sorted(streams.recorded):
        keys = streams.recorded[bid]
        if len(keys) == 1:  # recorded under one key (most): it manages the broadcast
            (owner[bid],) = keys
            continue
        owner[bid] = min(keys & desired_keys or keys)
        warnings.append(
            f"broadcast #{bid} is recorded under several keys ({', '.join(sorted(keys))}); "
            f"managed as '{owner[bid]}'"
        )
    grouped: dict[str, list[int]] = defaultdict(list)
    for bid, key in owner.items():  # lowest id first: `owner` was filled in id order
        grouped[key].append(bid)
    by_name: dict[str, list[int]] = defaultdict(list)
    streamless: dict[str, list[int]] = defaultdict(list)
    for bid in sorted(by_id):
        if bid in owner or bid in streams.foreign_broadcasts or bid in streams.released:
            continue
        used = by_id[bid].stream_ids
        # Our creates send only our streams: one using any other stream (unmanaged, or another
        # set's) was made by someone else, even with the same name, and is never taken over.
        if used and all(s in streams.owned_by_id for s in used):
            by_name[str(by_id[bid].get("name"))].append(bid)
        elif not used:
            streamless[str(by_id[bid].get("name"))].append(bid)
    return BroadcastIndex(
        by_id=by_id,
        owner=owner,
        ids_by_key={k: tuple(v) for k, v in grouped.items()},
        recorders={bid: _keys_of(owned) for bid, owned in streams.recorders.items()},
        protected=streams.protected,
        orphaned=streams.orphaned,
        by_name={k: tuple(v) for k, v in by_name.items()},
        warnings=tuple(warnings),
        streamless={k: tuple(v) for k, v in streamless.items()},
    )


def _keys_of(recorders: Sequence[OwnedStream]) -> tuple[str, ...]:
    if len(recorders) == 1:
        return (recorders[0].key,)
    return tuple(sorted({o.key for o in recorders}))


class How(StrEnum):
    OWNED = "owned"
    ADOPT = "adopt"  # explicit adopt_id
    RECOVERED = "recovered"  # created by an interrupted run: its name and a recorded intent
    CREATE = "create"


@dataclass(frozen=True)
class BroadcastTarget:
    key: str
    how: How
    live: LiveBroadcast | None = None

    @property
    def id(self) -> int | None:
        return self.live.id if self.live is not None else None


def resolve_broadcasts(
    desired: DesiredState, index: BroadcastIndex, streams: Ownership
) -> tuple[dict[str, BroadcastTarget], list[str], list[str]]:
    """(targets, problems a user must fix, warnings). Explicit adoptions are settled before the
    recovery by name, so that recovery never takes an id someone adopts."""
    targets: dict[str, BroadcastTarget] = {}
    problems: list[str] = []
    warnings: list[str] = []
    taken: dict[int, str] = {}
    keys = sorted(desired.broadcasts)
    for key in keys:
        want = desired.broadcasts[key]
        problem = _streams_problem(want, desired)
        if problem:
            problems.append(f"{_where(want)}broadcast '{key}': {problem}")
        ids = index.ids_by_key.get(key)
        if ids:
            targets[key] = BroadcastTarget(key, How.OWNED, index.by_id[ids[0]])
            if len(ids) > 1:
                others = ", ".join(f"#{i}" for i in ids[1:])
                warnings.append(
                    f"broadcast '{key}': several broadcasts are recorded for it; #{ids[0]} is "
                    f"managed, {others} left untouched and no longer recorded"
                )
        elif want.adopt_id is not None:
            problem = _adoption_problem(want.adopt_id, index, streams, taken)
            if problem:
                problems.append(
                    f"{_where(want)}broadcast '{key}': adopt_id {want.adopt_id}: {problem}"
                )
                continue
            taken[want.adopt_id] = key
            targets[key] = BroadcastTarget(key, How.ADOPT, index.by_id[want.adopt_id])
    for key in keys:
        if key in targets or desired.broadcasts[key].adopt_id is not None:
            continue
        name = str(desired.broadcasts[key].fields.get("name", key))
        # Only where this set recorded the intent to create it on a stream the broadcast uses:
        # a broadcast made by hand with the same name is never taken over.
        intended = streams.intents.get((key, name), frozenset())
        found = [
            bid
            for bid in index.by_name.get(name, ())
            if bid not in taken and intended & set(index.by_id[bid].stream_ids)
        ]
        if not found:
            targets[key] = BroadcastTarget(key, How.CREATE)
            if warning := _streamless_namesake(key, name, index, taken):
                warnings.append(warning)
            continue
        taken[found[0]] = key
        targets[key] = BroadcastTarget(key, How.RECOVERED, index.by_id[found[0]])
        if len(found) > 1:
            others = ", ".join(f"#{i}" for i in found[1:])
            warnings.append(
                f"broadcast '{key}': several unrecorded broadcasts named '{name}' use this set's "
                f"streams; adopting #{found[0]}, {others} left untouched"
            )
    return targets, problems, warnings


def _streamless_namesake(
    key: str, name: str, index: BroadcastIndex, taken: Mapping[int, str]
) -> str:
    """A broadcast about to be created whose name a broadcast using no stream has: likely this
    set's own, whose stream was deleted by hand (the record of it went with the stream's
    marker). Never taken by name (invariant); the user is told how to take it back."""
    namesakes = [bid for bid in index.streamless.get(name, ()) if bid not in taken]
    if not namesakes:
        return ""
    ids = ", ".join(f"#{i}" for i in namesakes)
    return (
        f"broadcast '{key}': creating it, while broadcast(s) {ids} named '{name}' use no stream "
        f"(its stream deleted by hand?); if one is this set's, declare `adopt: {namesakes[0]}` "
        "instead; they are left untouched"
    )


def _where(want: DesiredBroadcast) -> str:
    return f"{want.source}: " if want.source else ""


def _streams_problem(want: DesiredBroadcast, desired: DesiredState) -> str:
    if not want.stream_keys:
        return "declares no streams; a managed broadcast must use at least one stream of its set"
    streams = desired.streams
    if all(s in streams for s in want.stream_keys):
        return ""
    missing = [s for s in want.stream_keys if s not in streams]
    return f"uses undeclared stream(s) {', '.join(repr(s) for s in missing)}"


def _on_inactive_streams(want: DesiredBroadcast, desired: DesiredState) -> str:
    """A show declared on air whose every stream is declared inactive: no encoder can push to
    it, so the broadcast would be live with nothing to show."""
    status = want.fields.get("status")
    inactive = [
        skey
        for skey in want.stream_keys
        if (stream := desired.streams.get(skey)) is not None
        and stream.fields.get("active") is False
    ]
    if status not in UP_STATUSES[1:] or not inactive or len(inactive) < len(want.stream_keys):
        return ""
    names = ", ".join(f"'{s}'" for s in inactive)
    return (
        f"broadcast '{want.key}' is declared {status} on stream(s) {names} declared "
        "`active: false`: no encoder can push to an inactive stream; activate the stream or "
        "declare the broadcast pending"
    )


def _adoption_problem(
    aid: int, index: BroadcastIndex, streams: Ownership, taken: Mapping[int, str]
) -> str:
    if aid not in index.by_id:
        return "no broadcast with this id in the account"
    if aid in index.owner:
        return f"the broadcast is already managed by this set as '{index.owner[aid]}'"
    if aid in streams.foreign_broadcasts:
        return (
            f"the broadcast belongs to manifest set '{streams.foreign_broadcasts[aid]}'; release "
            "it there (deletion policy orphan) before adopting it here"
        )
    if aid in taken:
        return f"broadcast '{taken[aid]}' adopts the same id"
    return ""


def plan_broadcast_changes(
    desired: DesiredState,
    streams: Ownership,
    stream_targets: Mapping[str, StreamTarget],
    index: BroadcastIndex,
    targets: Mapping[str, BroadcastTarget],
    stream_changes: Iterable[Change],
    markers: Mapping[str, Marker],
    prune: bool,
) -> Planned:
    """`stream_changes`: the planned stream changes, for `depends_on`; `markers` the markers this
    run writes on the desired streams (`desired_markers`)."""
    out = Planned()
    by_stream: dict[str, list[Change]] = defaultdict(list)
    for change in stream_changes:
        by_stream[change.key].append(change)
    for key in sorted(desired.broadcasts):
        want, target = desired.broadcasts[key], targets[key]
        if warning := _on_inactive_streams(want, desired):
            out.warnings.append(warning)
        stream_deps: tuple[str, ...] = ()
        activations: tuple[str, ...] = ()
        if any(skey in by_stream for skey in want.stream_keys):  # most have no stream change
            stream_deps = _stream_changes(want, (Action.CREATE, Action.ADOPT), by_stream)
            # A broadcast goes on air only on streams that are ready: activated and updated (a
            # held region change must not let the show go live in the old region).
            activations = _stream_changes(want, (Action.UPDATE, Action.ACTIVATE), by_stream)
        if target.live is None:
            _create(out, want, stream_targets, stream_deps, activations)
        else:
            _converge(out, want, target, streams, stream_targets, markers, stream_deps, activations)
    if prune:
        for key in sorted(index.ids_by_key):
            if key not in desired.broadcasts:
                _prune(out, key, index)
    return out


def _records(want: DesiredBroadcast, markers: Mapping[str, Marker]) -> dict[str, str | None]:
    """The interruption evidence on each of the broadcast's streams as this run leaves it, which
    the next run reads: a record this run replaces (a broadcast set live or moved onto a stream)
    is no evidence now."""
    return {skey: markers[skey].live_after.get(want.key) for skey in want.stream_keys}


def _stream_changes(
    want: DesiredBroadcast, actions: tuple[Action, ...], by_stream: Mapping[str, list[Change]]
) -> tuple[str, ...]:
    """The ids of the stream changes of the given actions on the broadcast's streams (stream by
    stream, in the order of `actions`)."""
    return tuple(
        change.id
        for skey in want.stream_keys
        for action in actions
        for change in by_stream.get(skey, ())
        if change.action is action
    )


def _declared(want: DesiredBroadcast) -> dict[str, Any]:
    return {k: v for k, v in want.fields.items() if k != "stream_ids"}


def _create(
    out: Planned,
    want: DesiredBroadcast,
    stream_targets: Mapping[str, StreamTarget],
    stream_deps: tuple[str, ...],
    activations: tuple[str, ...],
) -> None:
    fields = _declared(want)
    name = str(fields.get("name", want.key))
    status = planned_status(want, None, stream_targets)
    if status != fields.get("status"):
        out.notes.append(_waiting_to_go_live(want))
    body = dict(fields)
    # Created pending, brought up after its streams are active (the tutorial's steps 2, 3, 5).
    body["status"] = status if status in ("pending", "finished") else "pending"
    create = Change(
        Resource.BROADCAST,
        want.key,
        Action.CREATE,
        Stage.CREATE_BROADCASTS,
        title=name,
        diffs=(*creation_diffs(fields), FieldDiff("add", "/streams", None, list(want.stream_keys))),
        body=body,
        stream_refs=tuple(want.stream_keys),
        reason="declared, not in the account",
        depends_on=stream_deps,
    )
    out.changes.append(create)
    if status in ("live", "paused"):
        out.changes.append(
            _set_status(
                want.key, name, None, str(status), "declared status", (create.id, *activations)
            )
        )


def _converge(
    out: Planned,
    want: DesiredBroadcast,
    target: BroadcastTarget,
    streams: Ownership,
    stream_targets: Mapping[str, StreamTarget],
    markers: Mapping[str, Marker],
    stream_deps: tuple[str, ...],
    activations: tuple[str, ...],
) -> None:
    live = target.live
    assert live is not None
    bid = live.id
    name = str(want.fields.get("name", want.key))
    compared = {k: v for k, v in want.fields.items() if k != "status" and k != "stream_ids"}
    changed = changed_fields(live.raw, compared)
    want_ids = [stream_targets[s].id for s in want.stream_keys]
    live_ids = set(live.stream_ids)
    streams_changed = None in want_ids or set(want_ids) != live_ids
    adopting = target.how in (How.ADOPT, How.RECOVERED)
    depends: tuple[str, ...] = ()
    if changed or streams_changed or adopting:
        diffs = field_diffs(
            {f: live.raw[f] for f in changed if f in live.raw}, {f: compared[f] for f in changed}
        )
        if streams_changed:
            before = sorted(streams.key_of(i) for i in live_ids)
            diffs += (FieldDiff("replace", "/streams", before, list(want.stream_keys)),)
        if target.how is How.ADOPT:
            action, reason = Action.ADOPT, f"adopt_id {bid}"
        elif target.how is How.RECOVERED:
            action, reason = Action.ADOPT, "found from an interrupted run"
        else:
            action, reason = Action.UPDATE, "drift"
        update = Change(
            Resource.BROADCAST,
            want.key,
            action,
            Stage.UPDATE_BROADCASTS,
            target_id=bid,
            title=name,
            diffs=diffs,
            body={"name": name, **{f: compared[f] for f in changed}},
            # Adoption always names its streams: apply records the broadcast in their markers.
            stream_refs=tuple(want.stream_keys) if streams_changed or adopting else (),
            existing_stream_ids=tuple(i for i in want_ids if i is not None)
            if streams_changed or adopting
            else (),
            reason=reason,
            depends_on=stream_deps,
        )
        out.changes.append(update)
        depends = (update.id,)
    _status(out, want, name, live, stream_targets, markers, depends, activations)


def _status(
    out: Planned,
    want: DesiredBroadcast,
    name: str,
    live: LiveBroadcast,
    stream_targets: Mapping[str, StreamTarget],
    markers: Mapping[str, Marker],
    depends: tuple[str, ...],
    activations: tuple[str, ...],
) -> None:
    """The status change, if any: the declared one, the interruption policy's pause, or the
    end of an interruption. `markers`: those this run writes (the interruption evidence)."""
    bid = live.id
    current = live.raw.get("status")
    wanted = planned_status(want, current, stream_targets)
    if wanted is None:
        return
    if wanted != want.fields.get("status"):
        out.notes.append(_waiting_to_go_live(want))
    reason = "declared status"
    records = _records(want, markers) if wanted == "live" else {}
    if wanted == "live" and _interrupted(want, stream_targets, records):
        if current == "live":
            if want.pause_on_interruption:
                out.changes.append(
                    _set_status(want.key, name, current, "paused", INTERRUPTED, depends, bid)
                )
            else:
                names = ", ".join(f"'{k}'" for k in want.stream_keys)
                out.warnings.append(
                    f"broadcast '{want.key}' is live but its stream(s) {names} are down"
                )
            return
        if current == "paused" and want.pause_on_interruption:
            return  # paused by the policy while its streams are down: no flapping
    if wanted == "live" and (waiting := _streams_waiting(want, stream_targets, records)):
        names = ", ".join(f"'{k}'" for k in waiting)
        out.warnings.append(
            f"broadcast '{want.key}' is declared live; no encoder has connected to its "
            f"stream(s) {names} yet"
        )
    if wanted == current:
        return
    if wanted == "live" and current == "paused" and want.pause_on_interruption:
        reason = "stream(s) back: end of interruption"
    if wanted in ("live", "paused"):
        depends = (*depends, *activations)
    if wanted == "finished":
        # Leaving the air comes first (a declared adoption included): its field UPDATE or ADOPT
        # runs later in the same run, and the stream's next show waits for this finish.
        depends = ()
    out.changes.append(_set_status(want.key, name, current, str(wanted), reason, depends, bid))


def planned_status(
    want: DesiredBroadcast, current: Any, stream_targets: Mapping[str, StreamTarget]
) -> Any:
    """The status the plan drives the broadcast to: the declared one, except that a broadcast
    declared `live` with `go_live: when_on_air` that is not up yet stays `pending` until one of
    its streams is on air (then it goes live at this run)."""
    wanted = want.fields.get("status")
    if wanted != "live" or want.go_live is not GoLive.WHEN_ON_AIR or current in UP_STATUSES[1:]:
        return wanted
    on_air = any(
        (stream := stream_targets[skey].live) is not None and stream.on_air
        for skey in want.stream_keys
        if skey in stream_targets
    )
    return wanted if on_air else "pending"


def _waiting_to_go_live(want: DesiredBroadcast) -> str:
    names = ", ".join(f"'{k}'" for k in want.stream_keys)
    return (
        f"broadcast '{want.key}' waits for an encoder on its stream(s) {names} "
        "(go_live: when_on_air): pending until one is on air"
    )


def _interrupted(
    want: DesiredBroadcast,
    stream_targets: Mapping[str, StreamTarget],
    records: Mapping[str, str | None],
) -> bool:
    """Every stream of the broadcast is active (after this run) and none is on air, and one of
    them was on air since the broadcast went live on it and dropped, by the evidence its marker
    holds after this run (`records`: the next run reads the same). A broadcast without that
    evidence (adopted, set live by hand), or whose streams have not been on air since it went
    live or moved onto them (this run records that anew), is never interrupted: pausing a show
    that has not started is wrong."""
    evidence = False
    for skey in want.stream_keys:
        target = stream_targets[skey]
        live = target.live
        if live is None or not target.active_after or live.on_air:
            return False
        evidence = evidence or dropped_since(live, records[skey])
    return evidence


def _streams_waiting(
    want: DesiredBroadcast,
    stream_targets: Mapping[str, StreamTarget],
    records: Mapping[str, str | None],
) -> list[str]:
    """The stream keys when none of the broadcast's streams has been on air since it went live
    (or ever, without a record); else []."""
    for skey in want.stream_keys:
        live = stream_targets[skey].live
        if live is not None and not never_on_air_since(live, records[skey]):
            return []
    return list(want.stream_keys)


def _set_status(
    key: str,
    name: str,
    before: Any,
    status: str,
    reason: str,
    depends: tuple[str, ...],
    bid: int | None = None,
) -> Change:
    return Change(
        Resource.BROADCAST,
        key,
        Action.SET_STATUS,
        Stage.BROADCASTS_FINISHED if status == "finished" else Stage.BROADCASTS_UP,
        target_id=bid,
        title=name,
        diffs=(FieldDiff("replace", "/status", before, status),),
        body={"status": status, "name": name},
        reason=reason,
        depends_on=depends,
    )


def _prune(out: Planned, key: str, index: BroadcastIndex) -> None:
    ids = index.ids_by_key[key]
    bid = ids[0]
    name = index.by_id[bid].name
    if len(ids) > 1:
        others = ", ".join(f"#{i}" for i in ids[1:])
        out.warnings.append(
            f"broadcast '{key}': several broadcasts are recorded for it; {others} left untouched"
        )
    if key in index.protected:
        out.notes.append(
            f"broadcast '{key}' (id {bid}): kept: protected (removed from the manifests)"
        )
        return
    orphan = key in index.orphaned
    out.changes.append(
        Change(
            Resource.BROADCAST,
            key,
            Action.ORPHAN if orphan else Action.DELETE,
            Stage.UPDATE_BROADCASTS if orphan else Stage.DELETE_BROADCASTS,
            target_id=bid,
            title=name,
            # The streams whose markers record it: apply forgets it there.
            stream_refs=index.recorders.get(bid, ()),
            reason=(
                "removed from the manifests; deletion policy orphan releases it"
                if orphan
                else "removed from the manifests (prune)"
            ),
        )
    )
