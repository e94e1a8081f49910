"""The planner: desired state + live state -> `Plan` (creates, declared-field updates, prune,
adoption, orphaning, lifecycle actions, interruption policy). See docs/planning.md.

Pure: no I/O, no clock. Knows nothing of the API client, guards, apply or output formats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from reconciler.errors import PlanError
from reconciler.model.changes import Change, Plan, Resource
from reconciler.model.desired import DeletionPolicy, DesiredState
from reconciler.model.live import LiveState, LiveStream
from reconciler.model.marker import Marker, encode_entity_data
from reconciler.model.ownership import OwnedStream, Ownership
from reconciler.plan.broadcasts import (
    UP_STATUSES,
    BroadcastIndex,
    BroadcastTarget,
    How,
    index_broadcasts,
    plan_broadcast_changes,
    planned_status,
    resolve_broadcasts,
)
from reconciler.plan.handover import PRUNES, Whereabouts, link_handovers
from reconciler.plan.interruption import evidence_record
from reconciler.plan.streams import (
    StreamTarget,
    deletion_policy_flags,
    index_streams,
    plan_stream_changes,
    resolve_streams,
)

__all__ = ["PlanOptions", "compute_plan", "owned_stream_ids"]

LONG_ID = 10**12 - 1  # the id a broadcast created in this run gets is not known yet: assume long


@dataclass(frozen=True)
class PlanOptions:
    prune: bool | None = None  # None: the Settings document decides (desired.settings.prune)


def compute_plan(
    desired: DesiredState, live: LiveState, options: PlanOptions = PlanOptions()
) -> Plan:
    """Every change that makes the account match the manifests, sorted by (stage, resource, key).

    A converged account gives a plan without changes (warnings and notes may remain).
    """
    set_name = desired.settings.set_name
    prune = desired.settings.prune if options.prune is None else options.prune
    streams = index_streams(live, set_name)
    stream_targets, problems = resolve_streams(desired, streams)
    broadcasts = index_broadcasts(live, streams, frozenset(desired.broadcasts))
    targets, broadcast_problems, warnings = resolve_broadcasts(desired, broadcasts, streams)
    problems += broadcast_problems
    if problems:
        raise PlanError(problems)
    markers = desired_markers(desired, streams, broadcasts, targets, stream_targets)
    _check_marker_room(desired, stream_targets, targets, markers)
    stream_plan = plan_stream_changes(desired, streams, stream_targets, markers, prune)
    broadcast_plan = plan_broadcast_changes(
        desired,
        streams,
        stream_targets,
        broadcasts,
        targets,
        stream_plan.changes,
        markers,
        prune,
    )
    changes = _link_stream_prunes(stream_plan.changes + broadcast_plan.changes)
    changes = link_handovers(changes, _whereabouts(desired, streams, broadcasts, targets, changes))
    changes.sort(key=lambda c: (c.stage, c.resource, c.key, c.action))
    return Plan(
        changes=tuple(changes),
        warnings=(
            *streams.warnings,
            *broadcasts.warnings,
            *warnings,
            *stream_plan.warnings,
            *broadcast_plan.warnings,
        ),
        notes=tuple(stream_plan.notes + broadcast_plan.notes),
    )


def owned_stream_ids(live: LiveState, set_name: str) -> dict[str, int]:
    """Our stream key -> id (the lowest id when a key is duplicated); lock streams left out."""
    return {key: owned.id for key, owned in index_streams(live, set_name).owned.items()}


def _whereabouts(
    desired: DesiredState,
    streams: Ownership,
    index: BroadcastIndex,
    targets: Mapping[str, BroadcastTarget],
    changes: Iterable[Change],
) -> dict[str, Whereabouts]:
    """Where each broadcast with a change is and will be (the only ones the handovers look
    up): the stream keys it uses now, those it declares (none when pruned), its status now."""
    out = {}
    for change in changes:
        if change.resource is not Resource.BROADCAST or change.key in out:
            continue
        want = desired.broadcasts.get(change.key)
        if want is not None:
            now = targets[change.key].live
            declared = frozenset(want.stream_keys)
        else:  # pruned: the broadcast it deletes or releases
            now = index.by_id.get(change.target_id) if change.target_id is not None else None
            declared = frozenset()
        if now is None:
            out[change.key] = Whereabouts(frozenset(), declared)
            continue
        keys = frozenset(streams.key_of(i) for i in now.stream_ids)
        out[change.key] = Whereabouts(keys, declared, now.status)
    return out


def _link_stream_prunes(changes: list[Change]) -> list[Change]:
    """A pruned stream is deleted or released only after the prunes (delete or release) of the
    broadcasts its marker records: its marker is their only ownership record, so if such a
    prune is held or fails, the stream stays ours with it (a later run does both in order)."""
    recorded_by: dict[str, list[str]] = defaultdict(list)
    for change in changes:
        if change.resource is Resource.BROADCAST and change.action in PRUNES:
            for skey in change.stream_refs:
                recorded_by[skey].append(change.id)
    out = []
    for change in changes:
        if (
            change.resource is Resource.STREAM
            and change.action in PRUNES
            and recorded_by.get(change.key)
        ):
            change = replace(change, depends_on=(*change.depends_on, *recorded_by[change.key]))
        out.append(change)
    return out


def _check_marker_room(
    desired: DesiredState,
    stream_targets: Mapping[str, StreamTarget],
    targets: Mapping[str, BroadcastTarget],
    markers: Mapping[str, Marker],
) -> None:
    """`MarkerTooLarge` now, before any request, when a marker with the broadcasts this run will
    record (created, adopted, recovered) no longer fits beside the user's data: apply would
    otherwise create the broadcast and then fail to record it, leaving it unowned."""
    pending: dict[str, dict[str, int]] = defaultdict(dict)
    for key, want in desired.broadcasts.items():
        target = targets[key]
        if target.how is not How.OWNED:
            for skey in want.stream_keys:
                pending[skey][key] = target.id or LONG_ID
    for skey, entries in sorted(pending.items()):
        user = desired.streams[skey].user_entity_data
        if user is None:
            user = stream_targets[skey].user_data
        marker = markers[skey]
        encode_entity_data(replace(marker, broadcasts={**marker.broadcasts, **entries}), user)


def desired_markers(
    desired: DesiredState,
    streams: Ownership,
    index: BroadcastIndex,
    targets: Mapping[str, BroadcastTarget],
    stream_targets: Mapping[str, StreamTarget],
) -> dict[str, Marker]:
    """The marker every desired stream should carry.

    It lists the broadcasts whose id is ours that use the stream or will; broadcasts
    created or adopted in this run are recorded by apply, and those it creates or recovers by
    name carry an intent until then (invariant 8: recorded before the broadcast's POST).
    Entries of broadcasts that left the manifests are kept while the broadcast exists (prune,
    protect and orphan act on them, and apply forgets them after a delete or orphan); entries
    for ids gone from the account, or for broadcasts that no longer use the stream, are dropped
    (repair).
    """
    per = _per_stream(desired, targets, stream_targets)
    markers: dict[str, Marker] = {}
    set_name = desired.settings.set_name
    owned_by_key = streams.owned
    for skey, want_stream in desired.streams.items():
        entries = per.uses.get(skey) or {}
        kept: _Kept = (per.protect.get(skey, _NONE), per.orphan.get(skey, _NONE), _NO_IDS)
        # The intent to create a broadcast rides with a new stream's create (or adoption); on a
        # stream already ours apply writes it before the POST, and the plan keeps it there.
        intended = per.intents.get(skey) or {}
        owned = owned_by_key.get(skey)
        if owned is not None:
            live_marker = owned.marker
            if intended:
                intended = {k: v for k, v in intended.items() if live_marker.intents.get(k) == v}
            if (
                live_marker.released_broadcasts
                or not live_marker.broadcasts.keys() <= entries.keys()
            ):
                entries, kept = _kept_from_live(desired, index, targets, live_marker, entries, kept)
        records = live_after_records(
            desired,
            skey,
            owned,
            targets,
            stream_targets,
            entries,
            per.using.get(skey, ()),
            per.rising,
        )
        is_protected, is_orphan = deletion_policy_flags(want_stream)
        values: tuple[Any, ...] = (set_name, skey, entries, is_protected, is_orphan)
        values += (frozenset(kept[0]), frozenset(kept[1]), kept[2], intended, records)
        markers[skey] = _marker(values, owned.marker if owned is not None else None)
    return markers


_MARKER_FIELDS = attrgetter(*(f.name for f in fields(Marker)))


def _marker(values: tuple[Any, ...], live: Marker | None) -> Marker:
    """The marker holding `values` (its fields in order): the live one itself when it holds
    them already (most streams), so that nothing is copied and comparing the two is at once."""
    if live is not None and _MARKER_FIELDS(live) == values:
        return live
    return Marker(*values)


_NONE: frozenset[str] = frozenset()
_NO_IDS: frozenset[int] = frozenset()
_Kept = tuple[AbstractSet[str], AbstractSet[str], frozenset[int]]  # protected, orphan, released


def _kept_from_live(
    desired: DesiredState,
    index: BroadcastIndex,
    targets: Mapping[str, BroadcastTarget],
    live_marker: Marker,
    entries: dict[str, int],
    kept: _Kept,
) -> tuple[dict[str, int], _Kept]:
    """What an owned stream's marker keeps of itself: the entries (with their protect and orphan
    flags) of broadcasts that left the manifests and still exist as that key, and the released
    broadcasts that exist and nobody adopts."""
    kept_protect, kept_orphan, released = kept
    if live_marker.released_broadcasts:
        taken = {t.id for t in targets.values() if t.id is not None}
        released = frozenset(
            bid
            for bid in live_marker.released_broadcasts
            if bid in index.by_id and bid not in index.owner and bid not in taken
        )
    for bkey, bid in live_marker.broadcasts.items():
        if bkey in desired.broadcasts or index.owner.get(bid) != bkey:
            continue
        entries = {**entries, bkey: bid}
        if bkey in live_marker.protected_broadcasts:
            kept_protect = kept_protect | {bkey}
        if bkey in live_marker.orphan_broadcasts:
            kept_orphan = kept_orphan | {bkey}
    return entries, (kept_protect, kept_orphan, released)


@dataclass
class _FromBroadcasts:
    """What the desired broadcasts put in each stream's marker, by stream key (`_per_stream`)."""

    uses: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    intents: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    protect: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    orphan: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    using: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rising: set[str] = field(default_factory=set)  # broadcast keys this run drives live or paused


def _per_stream(
    desired: DesiredState,
    targets: Mapping[str, BroadcastTarget],
    stream_targets: Mapping[str, StreamTarget],
) -> _FromBroadcasts:
    """One pass over the desired broadcasts (see `_FromBroadcasts`)."""
    per = _FromBroadcasts()
    uses = per.uses
    keys_by_id = _stream_keys_by_id(stream_targets)
    for key, want in desired.broadcasts.items():
        target = targets.get(key)
        live = target.live if target is not None else None
        if live is not None and target is not None and target.how is How.OWNED:
            # Recorded on the streams it will use and on those it uses now: a marker counts only
            # on a stream the broadcast uses, so the entries of a stream it leaves stay until
            # apply has moved it (apply then forgets them); a held move keeps it ours.
            bid = live.id
            for skey in want.stream_keys:
                if skey in stream_targets:
                    uses[skey][key] = bid
            for sid in live.stream_ids:
                for skey in keys_by_id.get(sid, ()):
                    uses[skey][key] = bid
        skeys = want.stream_keys
        for skey in dict.fromkeys(skeys) if len(skeys) > 1 else skeys:
            per.using[skey].append(key)
        # `planned_status` answers the declared status unless it is "live"
        if want.fields.get("status") in UP and (
            planned_status(want, live.status if live is not None else None, stream_targets) in UP
        ):
            per.rising.add(key)
        creating = target is not None and target.how in (How.CREATE, How.RECOVERED)
        flags = per.protect if want.policy.protect else None
        if flags is None and want.policy.deletion is DeletionPolicy.ORPHAN:
            flags = per.orphan
        if not creating and flags is None:
            continue  # no intent, no flag: most broadcasts
        for skey in skeys:
            if creating:
                per.intents[skey][key] = str(want.fields.get("name", key))
            if flags is not None:
                flags[skey].add(key)
    return per


def _stream_keys_by_id(stream_targets: Mapping[str, StreamTarget]) -> dict[int, list[str]]:
    """Live stream id -> the desired stream keys whose target it is (one lookup per id instead
    of a scan of every stream per broadcast)."""
    out: dict[int, list[str]] = defaultdict(list)
    for skey, where in stream_targets.items():
        if where.live is not None:
            out[where.live.id].append(skey)
    return out


UP = UP_STATUSES[1:]  # live or paused: on air


def live_after_records(
    desired: DesiredState,
    skey: str,
    owned: OwnedStream | None,
    targets: Mapping[str, BroadcastTarget],
    stream_targets: Mapping[str, StreamTarget],
    listed: Mapping[str, int],
    using: Iterable[str],
    rising: AbstractSet[str],
) -> dict[str, str]:
    """The interruption evidence the stream's marker should hold (`Marker.live_after`).

    A broadcast this run sets live or paused on the stream (or moves onto it while up) gets the
    stream's last ingest event now; one already up on it keeps its record (none for a broadcast
    adopted or set live by hand: no evidence, never paused), unless this run activates the stream;
    any other keeps what it has while
    the marker lists it, so that dropping a stale record never costs a write of its own.
    `using`: the desired broadcasts that declare the stream, in manifest order; `rising`: the
    broadcast keys this run drives live or paused.
    """
    before = owned.marker.live_after if owned is not None else {}
    if not before and rising.isdisjoint(using):
        return {}  # nothing recorded, nothing going up (most streams)
    # The stream as it is (an adopted one included: not ours yet, but its sessions happened).
    stream = stream_targets[skey].live
    out: dict[str, str] = {}
    for key in using:
        record = before.get(key)
        if key in rising and (
            not _up_on(targets.get(key), stream) or _activated(desired, skey, stream)
        ):
            record = evidence_record(stream)
        if record is not None:
            out[key] = record
    for key, record in before.items():
        if key in listed and key not in desired.broadcasts:
            out[key] = record
    return out


def _activated(desired: DesiredState, skey: str, stream: LiveStream | None) -> bool:
    """This run activates the stream: while it was inactive it gave no evidence, so the time on
    air of the broadcasts up on it starts again (whether an encoder is back decides the rest)."""
    return (
        stream is not None
        and not stream.active
        and desired.streams[skey].fields.get("active") is True
    )


def _up_on(target: BroadcastTarget | None, stream: LiveStream | None) -> bool:
    """The broadcast is live or paused now, on this stream."""
    if target is None or target.live is None or stream is None:
        return False
    return target.live.status in UP and stream.id in target.live.stream_ids
