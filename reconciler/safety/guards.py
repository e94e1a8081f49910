"""Safety rules over a computed plan: live-safety holds, empty-kind prune refusal, deletion caps.

Pure: plan + desired + live -> plan (invariants 5 and 7). Knows nothing of the API client, the
manifest files or how the plan is printed or applied.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler.model.changes import Action, Change, Plan, Resource
from reconciler.model.desired import DesiredState, ResourcePolicy
from reconciler.model.live import INGEST_FIELDS, LiveBroadcast, LiveState, LiveStream
from reconciler.model.ownership import ownership_of
from reconciler.safety.dropgrace import with_drop_grace

LIVE_OPT_IN = "allow with policy.allow_live_changes or --allow-live-changes"
FLAG_OPT_IN = "allow with --allow-live-changes"  # no document declares it: no policy can
DELETIONS = (Action.DELETE, Action.ORPHAN)  # what removal from the manifests does to an object


@dataclass(frozen=True)
class GuardOptions:
    """Overrides from the command line; None means "take the value from the Settings document"."""

    allow_live_changes: bool = False  # --allow-live-changes
    allow_empty_prune: bool | None = None  # --allow-empty-prune
    max_deletions: int | None = None  # --max-deletions (per kind, per run)
    max_deletion_percent: float | None = None  # --max-deletion-percent (of owned, per kind)


def apply_guards(
    plan: Plan, desired: DesiredState, live: LiveState, options: GuardOptions = GuardOptions()
) -> Plan:
    """Return `plan` with the safety rules applied, in this order:

    0. key conflicts: every change touching a stream key whose copies the ownership index could
       not settle (`Ownership.conflicts`) is held with the index's warning.
    1. live-safety: changes that would disturb a live stream are held (`Change.held` set to the
       reason, naming only the opt-in that can work: `live_opt_in`); changes that depend on a
       held change are held too ("waits for ..."). An allowed one gets a note, kept only if no
       rule below holds it.
    2. empty kind: when the manifests declare no stream (resp. broadcast) at all, every prune of
       that kind (DELETE and ORPHAN) is held, with a note.
    3. caps: pending DELETEs per kind beyond `max_deletions` or `max_deletion_percent` of the owned
       objects of that kind are held (the first by key go through), with a note.

    A held prune holds the other changes on the same object (its teardown: stop recording,
    finish, deactivate) and every change that depends on it. Held changes stay in the plan, shown
    with their reason: apply reports them HELD and exits 3, so cron can alert. Cleanup changes
    are capped by their policy, not here.
    """
    changes = _hold_key_conflicts(plan.changes, live, desired.settings.set_name)
    changes, overrides = _hold_live_changes(changes, desired, live, options)
    changes = _hold_dependents(changes)
    changes, refused = _refuse_empty_kinds(changes, desired, options)
    changes, capped = _cap_deletions(changes, desired, live, options)
    # Only now is it known which allowed changes go through: another rule may hold them still.
    through = [overrides[c.id] for c in changes if c.id in overrides and c.held is None]
    return replace(plan, changes=changes, notes=(*plan.notes, *through, *refused, *capped))


# --- key conflicts (issue 9 item 3) ----------------------------------------------------------


def _hold_key_conflicts(
    changes: tuple[Change, ...], live: LiveState, set_name: str
) -> tuple[Change, ...]:
    """Hold the changes of a conflicting stream key, of the broadcasts that name it, and of the
    broadcasts that use any stream carrying it: which stream is ours is not known for sure."""
    own = ownership_of(live, set_name)
    if not own.conflicts:
        return changes
    carriers: dict[int, str] = {o.id: o.key for o in own.owned_by_id.values()}
    out = []
    for change in changes:
        keys = {change.key} if change.resource is Resource.STREAM else set(change.stream_refs)
        target = live.broadcast_by_id.get(change.target_id or -1)
        if change.resource is Resource.BROADCAST and target is not None:
            keys |= {carriers[s] for s in target.stream_ids if s in carriers}
        conflict = next((own.conflicts[k] for k in sorted(keys) if k in own.conflicts), None)
        if conflict is not None and change.held is None:
            change = change.hold(conflict)
        out.append(change)
    return tuple(out)


# --- live-safety (invariant 5) ------------------------------------------------------------------


# What is held while on air (invariant 5): the one table, as docs/safety.md shows it. A stream
# is on air when an encoder is connected (`live` or `backup_live`); a broadcast is on air when it
# is live or paused and shows a stream on air. Everything else is applied: recording start and
# stop (they cut nobody), metadata (names, messages, DVR settings), anything on objects not on air.
HELD_ON_AIR_STREAM = {  # stream action -> what it does to the ingest
    Action.DELETE: "deleting it",
    Action.CLEANUP: "deleting it",
    Action.DEACTIVATE: "deactivating it",
}
HELD_INGEST_FIELDS = INGEST_FIELDS  # an UPDATE/ADOPT changing one moves or cuts the encoder
ON_AIR_STATUSES = ("live", "paused")
HELD_BROADCAST_STATUSES = {"pending": "taking it back to pending", "finished": "finishing it"}


def live_disturbance(change: Change, live: LiveState) -> str | None:
    """Why `change` would take something off air (without the opt-in hint), or None."""
    if change.target_id is None:
        return None
    if change.resource is Resource.STREAM:
        stream = live.stream_by_id.get(change.target_id)
        return (
            _stream_disturbance(change, stream, live) if stream and _on_air(stream, live) else None
        )
    if change.resource is Resource.BROADCAST:
        broadcast = live.broadcast_by_id.get(change.target_id)
        if broadcast is not None and broadcast.status in ON_AIR_STATUSES:
            return _broadcast_disturbance(change, broadcast, live)
    return None


def _stream_disturbance(change: Change, stream: LiveStream, live: LiveState) -> str | None:
    who = f"{_describe_stream(stream, change.key)} {_live_word(stream, live)}"
    if change.action in HELD_ON_AIR_STREAM:
        return f"{who}; {HELD_ON_AIR_STREAM[change.action]} waits {_until(stream, live, 'it')}"
    if change.action in (Action.UPDATE, Action.ADOPT):
        cuts = [
            cut
            for d in change.diffs
            if (cut := _describe_diff(d.path.lstrip("/"), d.before, d.after))
        ]
        if cuts:
            return f"{who}; {', '.join(cuts)} waits {_until(stream, live, 'it')}"
    return None


def _describe_diff(field: str, before: Any, after: Any) -> str | None:
    if field == "transcoding_region":
        return f"region change {before or '(none)'} -> {after or '(none)'}"
    if field in HELD_INGEST_FIELDS:
        return f"ingest change ({field})"
    if field == "active" and after is False:
        return "deactivation"
    return None


def _broadcast_disturbance(change: Change, broadcast: LiveBroadcast, live: LiveState) -> str | None:
    """An on-air broadcast deleted, leaving live/paused, or losing a stream that is on air."""
    on_air = [
        s for i in broadcast.stream_ids if (s := live.stream_by_id.get(i)) and _on_air(s, live)
    ]
    verb = None
    if change.action is Action.DELETE:
        verb = "deleting it"
    elif change.action is Action.SET_STATUS:
        verb = HELD_BROADCAST_STATUSES.get(str(_new_status(change)))
    elif change.action in (Action.UPDATE, Action.ADOPT) and change.stream_refs:
        kept = set(change.existing_stream_ids)  # as the plan resolved them
        on_air = [s for s in on_air if s.id not in kept]
        verb = "moving it off that stream"
    if verb is None or not on_air:
        return None
    stream = on_air[0]
    return (
        f"broadcast '{change.key}' (id {change.target_id}) shows {_describe_stream(stream)}, "
        f"which {_live_word(stream, live)}; {verb} waits {_until(stream, live, 'the stream')}"
    )


def _new_status(change: Change) -> Any:
    status = change.body.get("status")
    if status is None:
        status = next((d.after for d in change.diffs if d.path == "/status"), None)
    return status


def _hold_live_changes(
    changes: Iterable[Change], desired: DesiredState, live: LiveState, options: GuardOptions
) -> tuple[tuple[Change, ...], dict[str, str]]:
    """Hold the changes that would disturb a live stream, unless allowed (one look at each);
    the allowed ones are marked `live_allowed`, and those that do disturb get a note (by id)
    for the plan, kept if no other rule holds them: a forced change is never silent."""
    out, notes = [], {}
    for change in changes:
        allowed = _live_allowed(change, desired, options)
        why = None if change.held else live_disturbance(change, live)
        if why and not allowed:
            change = change.hold(f"{why}; {live_opt_in(change, desired)}")
        elif allowed:  # apply's re-check at the moment of the write lets it through too
            change = replace(change, live_allowed=True)
            if why:
                by = (
                    "--allow-live-changes"
                    if options.allow_live_changes
                    else "policy.allow_live_changes"
                )
                notes[change.id] = (
                    f"{change.id} goes through on air, allowed by {by}; "
                    f"otherwise it would be held: {why}"
                )
        out.append(change)
    return tuple(out), notes


def live_opt_in(change: Change, desired: DesiredState) -> str:
    """What can let `change` through while on air: the policy of the document that declares
    its object, or the flag; for an object no document declares (pruned, a cleanup candidate)
    only the flag."""
    return LIVE_OPT_IN if _policy(change, desired) is not None else FLAG_OPT_IN


def live_rule(
    desired: DesiredState,
    drop_grace: float = 0.0,
    now: Callable[[], datetime] | None = None,
) -> Callable[[Change, LiveState], str | None]:
    """The live-safety rule as apply re-checks it at the moment of each write: why the change
    would disturb a stream on air now (or whose encoder dropped less than `drop_grace` seconds
    before `now()`, the platform's time), with what can let it through (as the plan says it)."""

    def rule(change: Change, live: LiveState) -> str | None:
        if drop_grace > 0 and now is not None:
            live = with_drop_grace(live, now(), drop_grace)
        why = live_disturbance(change, live)
        return f"{why}; {live_opt_in(change, desired)}" if why else None

    return rule


def _live_allowed(change: Change, desired: DesiredState, options: GuardOptions) -> bool:
    if options.allow_live_changes:
        return True
    policy = _policy(change, desired)
    return policy is not None and policy.allow_live_changes


def _policy(change: Change, desired: DesiredState) -> ResourcePolicy | None:
    """The policy of the document declaring the change's object; None when none does (a
    pruned object has no policy left)."""
    if change.resource is Resource.STREAM and change.key in desired.streams:
        return desired.streams[change.key].policy
    if change.resource is Resource.BROADCAST and change.key in desired.broadcasts:
        return desired.broadcasts[change.key].policy
    return None


def _hold_dependents(changes: tuple[Change, ...]) -> tuple[Change, ...]:
    """Hold every change that (transitively) depends on a held change: apply would skip it."""
    reasons = {c.id: c.held for c in changes if c.held is not None}
    root = _blocked_by(changes, {held: held for held in reasons})
    out = []
    for change in changes:
        if change.held is None and change.id in root:
            first = root[change.id]
            change = change.hold(f"waits for {first}, which is held: {reasons[first]}")
        out.append(change)
    return tuple(out)


def _blocked_by(changes: Iterable[Change], seeds: Mapping[str, str]) -> dict[str, str]:
    """`seeds` (change id -> the root it stands for) plus every change that transitively depends
    on one of them, each mapped to the root it waits for."""
    dependents = _dependents(changes)
    root = dict(seeds)
    queue = list(root)
    while queue:
        blocker = queue.pop()
        for waiting in dependents.get(blocker, ()):
            if waiting not in root:
                root[waiting] = root[blocker]
                queue.append(waiting)
    return root


def _dependents(changes: Iterable[Change]) -> dict[str, list[str]]:
    """Change id -> ids of the changes that depend on it directly."""
    dependents: dict[str, list[str]] = {}
    for change in changes:
        for dep in change.depends_on:
            dependents.setdefault(dep, []).append(change.id)
    return dependents


# --- prune guards (invariant 7) -----------------------------------------------------------------


def _refuse_empty_kinds(
    changes: tuple[Change, ...], desired: DesiredState, options: GuardOptions
) -> tuple[tuple[Change, ...], list[str]]:
    allowed = options.allow_empty_prune
    if allowed is None:
        allowed = desired.settings.allow_empty_prune
    if allowed:
        return changes, []
    notes = []
    declared = {Resource.STREAM: desired.streams, Resource.BROADCAST: desired.broadcasts}
    for kind, declared_of_kind in declared.items():
        if declared_of_kind:
            continue
        prunes = [c for c in changes if c.resource is kind and c.action in DELETIONS]
        if not prunes:
            continue
        nothing = (
            "no resources at all"
            if not desired.streams and not desired.broadcasts
            else (f"no {kind}s")
        )
        reason = (
            f"prune refused: the manifests declare {nothing}; allow with --allow-empty-prune "
            "or allow_empty_prune: true in Settings"
        )
        changes, also = _hold_prunes(changes, prunes, reason)
        notes.append(
            f"prune refused: the manifests declare {nothing} while {len(prunes)} owned "
            f"{kind}(s) would be deleted or released ({_keys(prunes)}); if that is intended, "
            "set allow_empty_prune: true in the Settings document or pass --allow-empty-prune"
            + _along(also)
        )
    return changes, notes


def _cap_deletions(
    changes: tuple[Change, ...], desired: DesiredState, live: LiveState, options: GuardOptions
) -> tuple[tuple[Change, ...], list[str]]:
    settings = desired.settings
    max_count = settings.max_deletions if options.max_deletions is None else options.max_deletions
    percent = options.max_deletion_percent
    if percent is None:
        percent = settings.max_deletion_percent
    owned = owned_counts(live, settings.set_name)
    notes = []
    for kind in (Resource.STREAM, Resource.BROADCAST):
        deletes = sorted(
            (c for c in changes if c.resource is kind and c.action is Action.DELETE and not c.held),
            key=lambda c: c.key,
        )
        by_percent = allowed_by_percent(owned[kind], percent)
        allowed = min(max_count, by_percent)
        if len(deletes) <= allowed:
            continue
        excess = deletes[allowed:]
        reason, later = _cap_reason(kind, allowed, max_count, percent)
        changes, also = _hold_prunes(changes, excess, reason)
        notes.append(
            f"{len(excess)} {kind} deletion(s) held by the cap ({_keys(excess)}): at most "
            f"{max_count} per run and {percent:g}% of the {owned[kind]} owned {kind}s "
            f"(= {by_percent}); {later}; raise with --max-deletions / "
            "--max-deletion-percent (or max_deletions / max_deletion_percent in Settings)"
            + _along(also)
        )
    return changes, notes


def _cap_reason(kind: Resource, allowed: int, max_count: int, percent: float) -> tuple[str, str]:
    """A capped deletion's reason, and when the held ones go: later runs take them, unless the
    cap allows none at all (then only raising it lets them through)."""
    if allowed:
        reason = (
            f"deletion cap: {allowed} {kind} deletion(s) per run; deleted on a later run "
            "(raise with --max-deletions / --max-deletion-percent)"
        )
        return reason, "they are deleted on later runs"
    zero = [
        f"--max-deletions (max_deletions in Settings) is {max_count}" if max_count <= 0 else "",
        f"--max-deletion-percent (max_deletion_percent in Settings) is {percent:g}"
        if percent <= 0
        else "",
    ]
    why = [z for z in zero if z]
    it = "it" if len(why) == 1 else "both"
    reason = (
        f"deletion cap: no {kind} deletion is allowed: {' and '.join(why)}; "
        f"raise {it} to let this through"
    )
    return reason, "no run deletes them until the cap is raised"


def allowed_by_percent(owned: int, percent: float) -> int:
    """Deletions the percentage cap allows; at least one unless the percentage is 0, so that a
    small set can still remove a resource (the count cap and the empty-kind rule still apply)."""
    if percent <= 0:
        return 0
    return max(1, int(owned * percent / 100))


def owned_counts(live: LiveState, set_name: str) -> dict[Resource, int]:
    """Managed streams and existing recorded broadcasts of the set (the ownership index)."""
    owned = ownership_of(live, set_name)
    return {Resource.STREAM: len(owned.owned), Resource.BROADCAST: len(owned.recorded)}


def _hold_prunes(
    changes: tuple[Change, ...], prunes: Iterable[Change], reason: str
) -> tuple[tuple[Change, ...], list[str]]:
    """Hold the prunes, the other changes on the same objects, and their dependents; returns the
    plan and the ids held along with the prunes (for the note)."""
    prune_ids = {c.id for c in prunes}
    objects = {(c.resource, c.key) for c in prunes}
    first = _blocked_by(
        changes, {c.id: c.id for c in changes if (c.resource, c.key) in objects and not c.held}
    )
    out = []
    for change in changes:
        if change.id in first and change.held is None:
            root = first[change.id]
            held_reason = (
                reason
                if root == change.id and change.id in prune_ids
                else f"waits for {_prune_of(root, prunes)}, which is held: {reason}"
            )
            change = change.hold(held_reason)
        out.append(change)
    return tuple(out), sorted(set(first) - prune_ids)


def _prune_of(change_id: str, prunes: Iterable[Change]) -> str:
    """The prune a companion change belongs to (same object), else the change itself."""
    resource_key = change_id.rsplit("/", 1)[0]
    for prune in prunes:
        if prune.id.rsplit("/", 1)[0] == resource_key:
            return prune.id
    return change_id


def _along(also: list[str]) -> str:
    """The changes held with the prunes that are not the prunes themselves, for the note."""
    return f"; also held: {', '.join(also)}" if also else ""


# --- helpers ------------------------------------------------------------------------------------


def _on_air(stream: LiveStream, live: LiveState) -> bool:
    """An encoder is connected, or dropped within the drop grace (safety.dropgrace)."""
    return stream.on_air or stream.id in live.recent_drops


def _live_word(stream: LiveStream, live: LiveState) -> str:
    if stream.id in live.recent_drops and not stream.on_air:
        ago = live.recent_drops[stream.id]
        return f"lost its encoder {ago:.0f} s ago (within the drop grace: maybe an interruption)"
    return "is live" if stream.live else "is live on its backup ingest"


def _until(stream: LiveStream, live: LiveState, subject: str) -> str:
    if stream.id in live.recent_drops and not stream.on_air:
        return f"until {subject} has stayed down {live.drop_grace:g} s (--drop-grace)"
    return f"until {subject} is idle"


def _describe_stream(stream: LiveStream, key: str | None = None) -> str:
    label = key if key and not key.startswith("#") else stream.name
    return f"stream '{label}' (id {stream.id})"


def _keys(changes: Iterable[Change]) -> str:
    keys = sorted({c.key for c in changes})
    shown = ", ".join(keys[:10])
    return shown + (f", ... {len(keys) - 10} more" if len(keys) > 10 else "")
