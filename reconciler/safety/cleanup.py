"""Stale stream cleanup (`Cleanup` policies, invariant 9): which unmanaged streams to delete, why,
and which of their recordings go with them; and, at the moment of each deletion, whether the
stream is still stale by its policy's rule and no broadcast that is not finished uses it now
(`cleanup_recheck`, apply's re-check: `stream_use` answers for the plan and the write alike).

Selection is pure (desired + live + users + videos -> changes); the two reads it needs (active
users, videos of the candidates) are separate functions. Knows the API only as `StreamingAPI`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import ReconcilerError
from reconciler.model.changes import Action, Change, Plan, Resource, Stage
from reconciler.model.desired import CleanupPolicy, DesiredState
from reconciler.model.live import LiveBroadcast, LiveState, LiveStream, LiveVideo, platform_time
from reconciler.safety.users import HttpGet, read_active_users, read_policy_users

__all__ = [
    "CleanupSelection",
    "StreamUse",
    "VideoReads",
    "cleanup_recheck",
    "collect_cleanup",
    "in_use_now",
    "needs_videos",
    "plan_cleanup",
    "read_active_users",
    "read_videos",
    "select_cleanup",
    "stream_use",
    "with_cleanup",
]


@dataclass(frozen=True)
class CleanupSelection:
    changes: tuple[Change, ...] = ()  # CLEANUP (streams) and DELETE_RECORDING (videos)
    notes: tuple[str, ...] = ()  # caps reached, streams that can never be selected, ...


@dataclass(frozen=True)
class VideoReads:
    videos: Mapping[int, list[LiveVideo]]  # stream id -> its recordings (only streams read fine)
    errors: Mapping[int, str]  # stream id -> why its videos could not be listed


@dataclass(frozen=True)
class _Candidate:
    stream: LiveStream
    last_activity: datetime
    reasons: tuple[str, ...]

    @property
    def id(self) -> int:
        return self.stream.id


def plan_cleanup(
    desired: DesiredState,
    live: LiveState,
    *,
    now: datetime,
    active_users: Mapping[str, frozenset[int]],
    videos: Mapping[int, list[LiveVideo]] | None = None,
) -> tuple[Change, ...]:
    """The cleanup changes of every policy (see `select_cleanup`, which also returns notes)."""
    return select_cleanup(desired, live, now=now, active_users=active_users, videos=videos).changes


def select_cleanup(
    desired: DesiredState,
    live: LiveState,
    *,
    now: datetime,
    active_users: Mapping[str, frozenset[int]],
    videos: Mapping[int, list[LiveVideo]] | None = None,
    video_errors: Mapping[int, str] | None = None,
) -> CleanupSelection:
    """Select stale streams for every Cleanup policy, in declaration order.

    A stream is selected when it is not live, not on backup, not recording, not in a broadcast
    that is not finished, carries no reconciler marker nor release record (of any set) and is not
    a lock stream, is not adopted by the manifests, its last activity is older than `idle_for`,
    and (if the policy says so) its `client_user_id` is not in `active_users[policy.key]` — a
    stream without `client_user_id` is never selected then — and its name matches
    `name_pattern`. Oldest first, at most `max_deletions` per policy. With `delete_recordings`,
    each selected stream's videos (from `videos`) are deleted once the stream is (they depend on
    its CLEANUP: a stream kept at the write keeps them); a stream whose videos were not read
    (missing from `videos`) is held, never deleted without its recordings.
    """
    videos = videos or {}
    video_errors = video_errors or {}
    chosen, notes, capped = _choose(desired, live, now, active_users)
    changes: list[Change] = []
    for policy, candidate in chosen:
        changes += _changes_for(policy, candidate, videos, video_errors)
    for policy, candidate in capped:  # held, as a prune beyond its cap: exit 3, not "matches"
        (cleanup, *_) = _changes_for(replace(policy, delete_recordings=False), candidate, {}, {})
        changes.append(
            cleanup.hold(
                f"cleanup cap: Cleanup '{policy.key}' deletes at most {policy.max_deletions} "
                "stream(s) per run (max_deletions), the oldest first; this one on a later run"
            )
        )
    return CleanupSelection(changes=tuple(changes), notes=tuple(notes))


def with_cleanup(plan: Plan, selection: CleanupSelection) -> Plan:
    """`plan` with the cleanup changes appended and the cleanup notes added."""
    return replace(
        plan,
        changes=plan.changes + selection.changes,
        notes=plan.notes + selection.notes,
    )


def needs_videos(desired: DesiredState) -> bool:
    """Whether any policy deletes recordings (so the videos of its candidates must be read)."""
    return any(p.delete_recordings for p in desired.cleanups)


def candidates_needing_videos(
    desired: DesiredState,
    live: LiveState,
    *,
    now: datetime,
    active_users: Mapping[str, frozenset[int]],
) -> tuple[int, ...]:
    """Ids of the streams that will be selected by a policy with `delete_recordings`."""
    chosen, _, _ = _choose(desired, live, now, active_users)
    return tuple(candidate.id for policy, candidate in chosen if policy.delete_recordings)


def read_videos(api: StreamingAPI, stream_ids: Iterable[int]) -> VideoReads:
    """The recordings of each stream (`list_videos(stream_id=...)`); a failed read is recorded in
    `errors` so that stream is held, never deleted without its recordings."""
    videos: dict[int, list[LiveVideo]] = {}
    errors: dict[int, str] = {}
    for stream_id in stream_ids:
        try:
            found = api.list_videos(stream_id=stream_id)
        except ReconcilerError as exc:
            errors[stream_id] = str(exc)
            continue
        # Keep only videos of this stream: a server that ignored the filter must not make us
        # delete somebody else's recordings.
        parsed = (LiveVideo.parse(v) for v in found)
        videos[stream_id] = [v for v in parsed if v.stream_id == stream_id]
    return VideoReads(videos=videos, errors=errors)


def collect_cleanup(
    desired: DesiredState,
    live: LiveState,
    api: StreamingAPI,
    *,
    now: datetime,
    http_get: HttpGet | None = None,
) -> CleanupSelection:
    """Everything a run needs: read the active users (a failed read raises `ConfigError`, so
    nothing is deleted), select, read the videos of candidates that need them, select again."""
    if not desired.cleanups:
        return CleanupSelection()
    users = read_policy_users(desired, http_get=http_get)
    reads = VideoReads(videos={}, errors={})
    if needs_videos(desired):
        ids = candidates_needing_videos(desired, live, now=now, active_users=users)
        reads = read_videos(api, ids)
    return select_cleanup(
        desired, live, now=now, active_users=users, videos=reads.videos, video_errors=reads.errors
    )


# --- selection ----------------------------------------------------------------------------------


def _choose(
    desired: DesiredState,
    live: LiveState,
    now: datetime,
    active_users: Mapping[str, frozenset[int]],
) -> tuple[
    list[tuple[CleanupPolicy, _Candidate]], list[str], list[tuple[CleanupPolicy, _Candidate]]
]:
    """Candidates of every policy in declaration order, oldest first, capped (the ones beyond
    the cap last); a stream selected by an earlier policy is not selected again."""
    chosen: list[tuple[CleanupPolicy, _Candidate]] = []
    capped: list[tuple[CleanupPolicy, _Candidate]] = []
    notes: list[str] = []
    taken: set[int] = set()
    for policy in desired.cleanups:
        candidates, policy_notes = _candidates(policy, desired, live, now, active_users)
        notes += policy_notes
        candidates = [c for c in candidates if c.id not in taken]
        candidates.sort(key=lambda c: (c.last_activity, c.id))
        kept = candidates[: policy.max_deletions]
        if len(candidates) > len(kept):
            rest = candidates[len(kept) :]
            notes.append(
                f"Cleanup '{policy.key}': {len(rest)} more stale stream(s) match but "
                f"max_deletions is {policy.max_deletions}; the oldest go first, the rest on later "
                f"runs ({_ids(c.id for c in rest)})"
            )
            capped += [(policy, c) for c in rest]
        taken.update(c.id for c in candidates)
        chosen += [(policy, c) for c in kept]
    return chosen, notes, capped


def _candidates(
    policy: CleanupPolicy,
    desired: DesiredState,
    live: LiveState,
    now: datetime,
    active_users: Mapping[str, frozenset[int]],
) -> tuple[list[_Candidate], list[str]]:
    notes: list[str] = []
    users: frozenset[int] | None = None
    if policy.active_users is not None:
        if policy.key not in active_users:
            note = f"Cleanup '{policy.key}': its active users were not read; it selects nothing"
            return [], [note]
        users = active_users[policy.key]
    now = _aware(now)
    adopted = {s.adopt_id for s in desired.streams.values() if s.adopt_id is not None}
    in_use = _streams_in_unfinished_broadcasts(live)
    without_user: list[int] = []
    undated: list[int] = []
    found = []
    for stream in live.streams:
        stream_id = stream.id
        if stream_id in adopted or stream_id in in_use:
            continue
        # Ours or another set's, released by a set (orphan: kept on purpose), a lock, or data
        # too odd to say whose: never cleaned up.
        if stream.marker is not None or stream.released_by or stream.is_lock or stream.odd:
            continue
        name = stream.name
        if policy.name_pattern is not None and not fnmatch.fnmatchcase(name, policy.name_pattern):
            continue
        use = stream_use(stream, policy, now)
        if use.busy is not None:
            continue
        if use.last is None:
            undated.append(stream_id)
            continue
        moment, what = use.last
        reasons = [f"idle {_span(use.idle)} ({what} {moment.date().isoformat()})"]
        if users is not None:
            user = stream.client_user_id
            if user is None:
                without_user.append(stream_id)
                continue
            if user in users:
                continue
            reasons.append(f"client_user_id {user} not among {len(users)} active users")
        if policy.name_pattern is not None:
            reasons.append(f"name matches '{policy.name_pattern}'")
        found.append(_Candidate(stream=stream, last_activity=moment, reasons=tuple(reasons)))
    if without_user:
        notes.append(
            f"Cleanup '{policy.key}': {len(without_user)} idle stream(s) have no client_user_id "
            f"and are never selected by an active-users rule ({_ids(without_user)})"
        )
    if undated:
        notes.append(
            f"Cleanup '{policy.key}': {len(undated)} stream(s) have no readable created_at or "
            f"session time and are never selected ({_ids(undated)})"
        )
    return found, notes


@dataclass(frozen=True)
class StreamUse:
    """How a stream stands against a policy's idle rule at one moment."""

    busy: str | None  # why it is in use (on air, recording, used within idle_for); None: idle
    last: tuple[datetime, str] | None  # its last activity and what it was; None: no readable time
    idle: timedelta = timedelta(0)  # since `last`


def stream_use(stream: LiveStream, policy: CleanupPolicy, now: datetime) -> StreamUse:
    """Whether the stream itself is in use for `policy` at `now` (the platform's time): an
    encoder on air, a recording running, or its last session (else its creation) no longer ago
    than `idle_for`. The one rule of the selection and of apply's re-check at the write."""
    last = last_activity(stream)
    if stream.on_air:
        return StreamUse("an encoder is on air", last)
    if stream.recording:
        return StreamUse("it is recording", last)
    if last is None:
        return StreamUse(None, None)
    moment, what = last
    idle = max(_aware(now) - moment, timedelta(0))
    if idle > policy.idle_for:
        return StreamUse(None, last, idle)
    when = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    busy = (
        f"{what} {when} ({_span(idle)} ago); Cleanup '{policy.key}' takes only streams idle for "
        f"more than {_duration(policy.idle_for)}"
    )
    return StreamUse(busy, last, idle)


def last_activity(stream: LiveStream) -> tuple[datetime, str] | None:
    """When the stream was last used: the latest session start or end, else its creation time."""
    sessions = []
    for field, what in (
        ("finished_at_primary", "last session ended"),
        ("started_at_primary", "last session started"),
        ("started_at_backup", "last backup session started"),
    ):
        moment = platform_time(stream.get(field))
        if moment is not None:
            sessions.append((moment, what))
    if sessions:
        return max(sessions, key=lambda s: s[0])
    created = platform_time(stream.get("created_at"))
    return (created, "never used, created") if created is not None else None


def _changes_for(
    policy: CleanupPolicy,
    candidate: _Candidate,
    videos: Mapping[int, list[LiveVideo]],
    video_errors: Mapping[int, str],
) -> list[Change]:
    name = candidate.stream.name
    reason = f"Cleanup '{policy.key}': " + ", ".join(candidate.reasons)
    cleanup = Change(
        resource=Resource.STREAM,
        key=f"#{candidate.id}",
        action=Action.CLEANUP,
        stage=Stage.CLEANUP,
        target_id=candidate.id,
        title=name,
        reason=reason,
        selected_by=policy.key,
    )
    if not policy.delete_recordings:
        return [cleanup]
    if candidate.id not in videos:
        why = video_errors.get(candidate.id, "not read")
        held = (
            f"its recordings could not be listed ({why}); the stream is kept until they can be "
            "deleted with it"
        )
        return [cleanup.hold(held)]
    # The stream first, its recordings once it is gone: a stream kept at the moment of its write
    # (on air, or a broadcast took it since the plan) keeps its recordings too. A recording
    # whose delete fails then is reported FAILED; nothing leads a later run back to it.
    recordings = [
        Change(
            resource=Resource.VIDEO,
            key=f"#{video.id}",
            action=Action.DELETE_RECORDING,
            stage=Stage.CLEANUP,
            target_id=video.id,
            title=video.name,
            reason=f"Cleanup '{policy.key}': recording of stream '{name}' (#{candidate.id})",
            depends_on=(cleanup.id,),
        )
        for video in sorted(videos[candidate.id], key=lambda v: v.id or 0)
        if video.id is not None
    ]
    return [cleanup, *recordings]


def cleanup_recheck(
    desired: DesiredState, now: Callable[[], datetime]
) -> Callable[[Change, LiveState], str | None]:
    """The selection judged again at the moment of a Cleanup deletion (apply's `in_use` rule):
    why the stream must be kept now, given `live` (the stream as re-read just before the write,
    every broadcast as read just before) and `now()` (the platform's time): used since the plan
    (on air, recording, a session within its policy's `idle_for`: `stream_use`, as the plan
    judged it), or a broadcast that is not finished uses it (`in_use_now`). None: it may go."""
    policies = {policy.key: policy for policy in desired.cleanups}

    def rule(change: Change, live: LiveState) -> str | None:
        if change.action is not Action.CLEANUP or change.target_id is None:
            return None
        stream = live.stream_by_id.get(change.target_id)
        policy = policies.get(change.selected_by)
        if stream is not None and policy is not None:
            use = stream_use(stream, policy, now())
            if use.busy is not None:
                return f"used since the plan: {use.busy}"
            if use.last is None:
                return "no created_at or session time can be read now, so its idle age is unknown"
        return in_use_now(change, live)

    return rule


def in_use_now(change: Change, live: LiveState) -> str | None:
    """Why a Cleanup deletion must not be sent now: a broadcast that is not finished uses the
    stream (the selection's rule, judged again at the moment of the write: `live` holds the
    stream as re-read and every broadcast as read just before). None: it may go."""
    if change.action is not Action.CLEANUP or change.target_id is None:
        return None
    user = _streams_in_unfinished_broadcasts(live).get(change.target_id)
    if user is None:
        return None
    stream = live.stream_by_id.get(change.target_id)
    name = stream.name if stream is not None else change.title
    return (
        f"broadcast '{user.name}' (id {user.id}, {user.status or 'no status'}) uses stream "
        f"'{name}' (id {change.target_id}); a stream used by a broadcast that is not finished "
        "is never cleaned up"
    )


def _streams_in_unfinished_broadcasts(live: LiveState) -> dict[int, LiveBroadcast]:
    """Stream id -> a broadcast that is not finished and shows it (an upcoming or running show),
    as the broadcast lists its streams or the stream lists its broadcasts."""
    unfinished = {b.id: b for b in live.broadcasts if b.get("status") != "finished"}
    used: dict[int, LiveBroadcast] = {}
    for broadcast in unfinished.values():
        for stream_id in broadcast.stream_ids:
            used.setdefault(stream_id, broadcast)
    for stream in live.streams:
        for broadcast_id in stream.broadcast_ids:
            if broadcast_id in unfinished:
                used.setdefault(stream.id, unfinished[broadcast_id])
    return used


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _span(delta: timedelta) -> str:
    """An age in its largest unit: `40d`, `5h`, `12m`, `20s`."""
    if delta >= timedelta(days=1):
        return f"{delta.days}d"
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds >= 60 else f"{seconds}s"


def _duration(delta: timedelta) -> str:
    """A policy's `idle_for` exactly, as a manifest writes it: `30d`, `1d12h`, `90s`."""
    seconds, out = int(delta.total_seconds()), ""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def _ids(ids: Iterable[int]) -> str:
    values = sorted(ids)
    shown = ", ".join(f"#{i}" for i in values[:10])
    return shown + (f", ... {len(values) - 10} more" if len(values) > 10 else "")
