"""The stream side of the planner: which live stream each desired stream is (owned per the
ownership index, adopted by id, or to be created), and the stream changes.

Pure; knows nothing of the API client, guards or output. Broadcasts reach it only as the desired
markers the broadcast side computed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model.changes import Action, Change, FieldDiff, Resource, Stage
from reconciler.model.desired import DeletionPolicy, DesiredState, DesiredStream
from reconciler.model.live import ENTITY, LiveState, LiveStream
from reconciler.model.marker import RESERVED_KEY, Marker, release_record, released_by_in
from reconciler.model.marker import encode_entity_data as encode
from reconciler.model.ownership import OwnedStream, Ownership, ownership_of
from reconciler.plan.diffing import (
    changed_fields,
    creation_diffs,
    decoded_entity_value,
    field_diffs,
    json_equal,
    pointer,
)

REGION = "transcoding_region"  # the tutorial's field, gone from the current API


@dataclass
class Planned:
    """What one side of the planner produced."""

    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def index_streams(live: LiveState, set_name: str) -> Ownership:
    """Every live stream indexed once (lock streams left out): the set's ownership index."""
    return ownership_of(live, set_name)


@dataclass(frozen=True)
class StreamTarget:
    """The live stream a desired stream is: owned, adopted by id, or None (to be created)."""

    key: str
    live: LiveStream | None
    adopt: bool = False
    user_data: Mapping[str, Any] | None = None  # live user part of client_entity_data
    active_after: bool = False  # active once this run is applied (`_active_after`)

    @property
    def id(self) -> int | None:
        return self.live.id if self.live is not None else None


def resolve_streams(
    desired: DesiredState, index: Ownership
) -> tuple[dict[str, StreamTarget], list[str]]:
    """Each desired stream's live target, and the conflicts a user must fix (explicit adoption)."""
    targets: dict[str, StreamTarget] = {}
    problems: list[str] = []
    adopted: dict[int, str] = {}
    for key in sorted(desired.streams):
        want = desired.streams[key]
        owned = index.owned.get(key)
        if owned is not None:
            live = owned.stream
            active = _active_after(want, live)
            targets[key] = StreamTarget(key, live, False, owned.user_data, active)
        elif want.adopt_id is None:
            targets[key] = StreamTarget(key, None, active_after=_active_after(want, None))
        else:
            problem = _adoption_problem(want, index, adopted)
            if problem:
                where = f"{want.source}: " if want.source else ""
                problems.append(f"{where}stream '{key}': adopt_id {want.adopt_id}: {problem}")
                continue
            live = index.by_id[want.adopt_id]
            adopted[want.adopt_id] = key
            active = _active_after(want, live)
            targets[key] = StreamTarget(key, live, True, live.user_data, active)
    return targets, problems


def _active_after(want: DesiredStream, live: LiveStream | None) -> bool:
    """Whether the stream is active once this run is applied: as declared, else as it is."""
    declared = want.fields.get("active")
    if isinstance(declared, bool):
        return declared
    return live is not None and live.active


def _adoption_problem(want: DesiredStream, index: Ownership, adopted: dict[int, str]) -> str:
    aid = want.adopt_id
    assert aid is not None
    if aid in index.locks:
        return "this is the lock stream of a manifest set; it cannot be adopted"
    live = index.by_id.get(aid)
    if live is None:
        return "no stream with this id in the account"
    if aid in index.odd:
        return f"{index.odd[aid]}; it cannot be adopted"
    if aid in index.foreign:
        return (
            f"the stream belongs to manifest set '{index.foreign[aid]}'; release it there "
            "(deletion policy orphan) before adopting it here"
        )
    if aid in index.owned_by_id:
        return f"the stream is already managed by this set as '{index.owned_by_id[aid].marker.key}'"
    if aid in adopted:
        return f"stream '{adopted[aid]}' adopts the same id"
    value = decoded_entity_value(live.get(ENTITY))
    if want.user_entity_data is None and not isinstance(value, dict | None):
        return (
            "its client_entity_data is text, not a JSON object, and adopting would overwrite it; "
            "declare client_entity_data in the manifest to replace it"
        )
    if (
        want.user_entity_data is None
        and isinstance(value, dict)
        and RESERVED_KEY in value
        and released_by_in(value[RESERVED_KEY]) is None
    ):
        # Not a marker (those were sorted out above) nor a release record: the user's own value.
        return (
            f"its client_entity_data holds a key '{RESERVED_KEY}' of its own, which our marker "
            "would overwrite; declare client_entity_data in the manifest to replace it"
        )
    return ""


def plan_stream_changes(
    desired: DesiredState,
    index: Ownership,
    targets: Mapping[str, StreamTarget],
    markers: Mapping[str, Marker],
    prune: bool,
) -> Planned:
    out = Planned()
    for key in sorted(desired.streams):
        want, target = desired.streams[key], targets[key]
        if target.live is None:
            _create(out, want, markers[key])
        else:
            _converge(out, want, target, markers[key])
    if prune:
        for key in sorted(index.owned):
            if key not in desired.streams:
                _prune(out, index.owned[key])
    return out


def _declared(want: DesiredStream) -> dict[str, Any]:
    return {k: v for k, v in want.fields.items() if k != ENTITY}


def _create(out: Planned, want: DesiredStream, marker: Marker) -> None:
    fields = _declared(want)
    name = str(fields.get("name", want.key))
    body = dict(fields)
    if fields.get("active") is True:
        body["active"] = False  # the tutorial's advice: create inactive, activate later (quota)
    body[ENTITY] = encode(marker, want.user_entity_data)
    diffs = creation_diffs(fields)
    if want.user_entity_data:
        diffs += (FieldDiff("add", pointer(ENTITY), None, dict(want.user_entity_data)),)
    create = Change(
        Resource.STREAM,
        want.key,
        Action.CREATE,
        Stage.CREATE_STREAMS,
        title=name,
        diffs=diffs,
        body=body,
        reason="declared, not in the account",
    )
    out.changes.append(create)
    if fields.get("active") is True:
        out.changes.append(_activation(want.key, name, True, False, (create.id,)))
    if want.recording is True:
        out.warnings.append(_recording_waits(want.key))


def _converge(out: Planned, want: DesiredStream, target: StreamTarget, marker: Marker) -> None:
    live = target.live
    assert live is not None
    sid = live.id
    fields = want.fields  # `client_entity_data` is compared as the marker and user part below
    name = str(fields.get("name", want.key))
    compared = {k: v for k, v in fields.items() if k != "active" and k != ENTITY}
    if REGION in compared and REGION not in live.raw:
        # The current Gcore API no longer reports the tutorial's region field (API-FACTS §5):
        # comparing it would PATCH on every run, so it is sent on create only, and said so.
        del compared[REGION]
        out.warnings.append(_region_unreported(want.key))
    # The user's part of client_entity_data is theirs only when declared (invariant 3).
    user = want.user_entity_data if want.user_entity_data is not None else target.user_data
    changed = changed_fields(live.raw, compared)
    have_entity = live.get(ENTITY)
    if live.entity.same_entity(marker, user):
        entity_changed, text = False, None  # the stored marker is this one: nothing to encode
    else:
        text = encode(marker, user)
        entity_changed = have_entity != text and not json_equal(
            json.loads(text or "null"), decoded_entity_value(have_entity)
        )
    depends: tuple[str, ...] = ()
    if changed or entity_changed or target.adopt:
        before = {f: live.raw[f] for f in changed if f in live.raw}
        after = {f: compared[f] for f in changed}
        body: dict[str, Any] = {"name": name, **after}
        if entity_changed:
            if have_entity not in (None, ""):
                before[ENTITY] = decoded_entity_value(have_entity)
            after[ENTITY] = json.loads(text or "null")
            body[ENTITY] = text
        if target.adopt:
            action, reason = Action.ADOPT, f"adopt_id {sid}"
        else:
            action = Action.UPDATE
            reason = "drift" if changed else "ownership marker out of date"
        update = Change(
            Resource.STREAM,
            want.key,
            action,
            Stage.UPDATE_STREAMS,
            target_id=sid,
            title=name,
            diffs=field_diffs(before, after),
            body=body,
            reason=reason,
        )
        out.changes.append(update)
        depends = (update.id,)
    is_active = live.active
    activate = None
    if fields.get("active") is True and not is_active:
        activate = _activation(want.key, name, True, is_active, depends, sid)
    elif fields.get("active") is False and is_active:
        activate = _activation(want.key, name, False, is_active, depends, sid)
    if activate is not None:
        out.changes.append(activate)
        if activate.action is Action.ACTIVATE:
            depends = (activate.id,)
    _recording(out, want, sid, name, live, depends)


def _activation(
    key: str, name: str, on: bool, was: bool, depends: tuple[str, ...], sid: int | None = None
) -> Change:
    return Change(
        Resource.STREAM,
        key,
        Action.ACTIVATE if on else Action.DEACTIVATE,
        Stage.ACTIVATE_STREAMS if on else Stage.DEACTIVATE_STREAMS,
        target_id=sid,
        title=name,
        diffs=(FieldDiff("replace", "/active", was, on),),
        body={"active": on, "name": name},
        reason="declared active" if on else "declared inactive",
        depends_on=depends,
    )


def _recording(
    out: Planned,
    want: DesiredStream,
    sid: int,
    name: str,
    live: LiveStream,
    depends: tuple[str, ...],
) -> None:
    if want.recording is None:
        return  # not declared: nothing to start, stop or warn about
    on_air, recording = live.on_air, live.recording
    # Only while auto_record stays on: a declared `auto_record: false` is this run's PATCH.
    auto_record = want.fields.get("auto_record", live.get("auto_record"))
    if want.recording is False and auto_record is True:
        out.warnings.append(
            f"stream '{want.key}': recording: false while the account's auto_record is on: "
            "each new session starts a recording that the next apply stops; declare "
            "auto_record: false"
        )
    if want.recording is True and not recording:
        if not on_air:
            out.warnings.append(_recording_waits(want.key))
            return
        action, stage, reason = Action.START_RECORDING, Stage.START_RECORDING, "declared recording"
    elif want.recording is False and recording:
        action, stage, reason = (
            Action.STOP_RECORDING,
            Stage.STOP_RECORDING,
            "declared not recording",
        )
        depends = ()
    else:
        return
    after = action is Action.START_RECORDING
    out.changes.append(
        Change(
            Resource.STREAM,
            want.key,
            action,
            stage,
            target_id=sid,
            title=name,
            diffs=(FieldDiff("replace", "/recording", not after, after),),
            reason=reason,
            depends_on=depends,
        )
    )


def _region_unreported(key: str) -> str:
    return (
        f"stream '{key}': the account does not report transcoding_region, so it cannot be "
        "compared; it is sent only when the stream is created (ingest regions are chosen by the "
        "platform)"
    )


def _recording_waits(key: str) -> str:
    return f"stream '{key}': recording requested; it starts when an encoder is connected"


def _prune(out: Planned, owned: OwnedStream) -> None:
    key, sid, marker = owned.marker.key, owned.id, owned.marker
    name = owned.stream.name
    if marker.protect:
        out.notes.append(f"stream '{key}' (id {sid}): kept: protected (removed from the manifests)")
        return
    if marker.orphan:
        # Our marker gives way to the set's release record: no Cleanup takes the stream later.
        released = encode(None, owned.user_data, released_by=marker.set_name)
        out.changes.append(
            Change(
                Resource.STREAM,
                key,
                Action.ORPHAN,
                Stage.RELEASE_STREAMS,
                target_id=sid,
                title=name,
                diffs=(
                    FieldDiff(
                        "replace",
                        f"{pointer(ENTITY)}/{RESERVED_KEY}",
                        marker.to_json_value(),
                        release_record(marker.set_name),
                    ),
                ),
                body={"name": name, ENTITY: released or ""},
                reason="removed from the manifests; deletion policy orphan releases it",
            )
        )
        return
    out.changes.append(
        Change(
            Resource.STREAM,
            key,
            Action.DELETE,
            Stage.DELETE_STREAMS,
            target_id=sid,
            title=name,
            reason="removed from the manifests (prune)",
        )
    )


def deletion_policy_flags(want: DesiredStream) -> tuple[bool, bool]:
    """(protect, orphan) as written into the stream's own marker."""
    return want.policy.protect, want.policy.deletion is DeletionPolicy.ORPHAN
