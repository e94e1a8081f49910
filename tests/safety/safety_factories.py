"""Builders for live API objects (with our markers) and desired states, for the safety tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reconciler.model.changes import Action, Change, Resource, Stage
from reconciler.model.desired import (
    CleanupPolicy,
    DeletionPolicy,
    DesiredBroadcast,
    DesiredState,
    DesiredStream,
    ResourcePolicy,
    Settings,
    UsersSource,
)
from reconciler.model.live import LiveState
from reconciler.model.marker import Marker, encode_entity_data

SET = "prod"
CREATED = "2026-01-01T00:00:00Z"


def live_stream(
    stream_id: int,
    name: str,
    *,
    key: str | None = None,
    set_name: str = SET,
    broadcasts: dict[str, int] | None = None,
    user_data: dict[str, Any] | None = None,
    live: bool = False,
    backup_live: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """A stream as the API lists it; `key` given = managed by `set_name` with that key."""
    marker = Marker(set_name=set_name, key=key, broadcasts=broadcasts or {}) if key else None
    stream: dict[str, Any] = {
        "id": stream_id,
        "name": name,
        "active": False,
        "live": live,
        "backup_live": backup_live,
        "recording": False,
        "client_entity_data": encode_entity_data(marker, user_data),
        "client_user_id": None,
        "broadcast_ids": sorted((broadcasts or {}).values()),
        "created_at": CREATED,
        "started_at_primary": None,
        "finished_at_primary": None,
        "token": f"tok{stream_id:08d}secret",
        "push_url": f"rtmp://vp-push-ix1.gvideo.co/in/{stream_id}?tok{stream_id:08d}secret",
    }
    stream.update(fields)
    return stream


def live_broadcast(
    broadcast_id: int, name: str, stream_ids: list[int], status: str = "pending", **fields: Any
) -> dict[str, Any]:
    return {"id": broadcast_id, "name": name, "status": status, "stream_ids": stream_ids, **fields}


def live_state(
    streams: list[dict[str, Any]], broadcasts: list[dict[str, Any]] | None = None
) -> LiveState:
    return LiveState.from_raw(streams, broadcasts or ())


def desired_stream(
    key: str,
    *,
    allow_live: bool = False,
    protect: bool = False,
    orphan: bool = False,
    **fields: Any,
) -> DesiredStream:
    policy = ResourcePolicy(
        protect=protect,
        deletion=DeletionPolicy.ORPHAN if orphan else DeletionPolicy.DELETE,
        allow_live_changes=allow_live,
    )
    return DesiredStream(key=key, fields={"name": key, **fields}, policy=policy)


def desired_broadcast(
    key: str, streams: tuple[str, ...], *, allow_live: bool = False, **fields: Any
) -> DesiredBroadcast:
    policy = ResourcePolicy(allow_live_changes=allow_live)
    return DesiredBroadcast(
        key=key, fields={"name": key, **fields}, stream_keys=streams, policy=policy
    )


def desired_state(
    streams: list[DesiredStream] | None = None,
    broadcasts: list[DesiredBroadcast] | None = None,
    cleanups: list[CleanupPolicy] | None = None,
    **settings: Any,
) -> DesiredState:
    return DesiredState(
        settings=Settings(set_name=SET, **settings),
        streams={s.key: s for s in streams or ()},
        broadcasts={b.key: b for b in broadcasts or ()},
        cleanups=tuple(cleanups or ()),
    )


def cleanup_policy(
    key: str = "stale",
    *,
    idle_days: float = 30,
    users_file: str | None = None,
    name_pattern: str | None = None,
    max_deletions: int = 10,
    delete_recordings: bool = False,
) -> CleanupPolicy:
    return CleanupPolicy(
        key=key,
        idle_for=timedelta(days=idle_days),
        active_users=UsersSource(file=users_file) if users_file else None,
        name_pattern=name_pattern,
        max_deletions=max_deletions,
        delete_recordings=delete_recordings,
    )


_STAGES = {
    (Resource.STREAM, Action.DELETE): Stage.DELETE_STREAMS,
    (Resource.STREAM, Action.ORPHAN): Stage.DELETE_STREAMS,
    (Resource.STREAM, Action.UPDATE): Stage.UPDATE_STREAMS,
    (Resource.STREAM, Action.DEACTIVATE): Stage.DEACTIVATE_STREAMS,
    (Resource.STREAM, Action.STOP_RECORDING): Stage.STOP_RECORDING,
    (Resource.STREAM, Action.CREATE): Stage.CREATE_STREAMS,
    (Resource.BROADCAST, Action.DELETE): Stage.DELETE_BROADCASTS,
    (Resource.BROADCAST, Action.ORPHAN): Stage.DELETE_BROADCASTS,
    (Resource.BROADCAST, Action.SET_STATUS): Stage.BROADCASTS_FINISHED,
    (Resource.BROADCAST, Action.UPDATE): Stage.UPDATE_BROADCASTS,
}


def change(
    resource: Resource, key: str, action: Action, target_id: int | None = None, **kw: Any
) -> Change:
    return Change(
        resource=resource,
        key=key,
        action=action,
        stage=kw.pop("stage", _STAGES.get((resource, action), Stage.UPDATE_STREAMS)),
        target_id=target_id,
        **kw,
    )
