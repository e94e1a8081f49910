"""Builders for planner tests: realistic live stream/broadcast dicts (markers written with
`ownership.encode_entity_data`) and desired-state values. Pure and fast: no simulator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.model.desired import (
    DeletionPolicy,
    DesiredBroadcast,
    DesiredState,
    DesiredStream,
    ResourcePolicy,
    Settings,
)
from reconciler.model.live import LiveState
from reconciler.model.marker import LOCK_KEY, Marker, encode_entity_data

SET = "prod"

STREAM_DEFAULTS: dict[str, Any] = {
    "active": False,
    "pull": False,
    "uri": None,
    "auto_record": False,
    "record_type": "origin",
    "hls_mpegts_endlist_tag": True,
    "dvr_enabled": False,
    "dvr_duration": 3600,
    "cdn_id": None,
    "client_user_id": None,
    "html_overlay": False,
    "quality_set_id": None,
    "low_latency_enabled": True,
    "projection": "regular",
    "live": False,
    "backup_live": False,
    "recording": False,
    "transcoding_region": "ed2",
}

BROADCAST_DEFAULTS: dict[str, Any] = {
    "status": "pending",
    "share_url": "",
    "custom_iframe_url": "",
    "show_dvr_after_finish": False,
    "pending_message": "",
    "ad_id": None,
    "player_id": None,
    "poster": None,
}


def marker(key: str, set_name: str = SET, **kwargs: Any) -> Marker:
    return Marker(set_name=set_name, key=key, **kwargs)


def stream(
    sid: int,
    name: str | None = None,
    *,
    owner: Marker | None = None,
    user: Mapping[str, Any] | None = None,
    entity: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A stream as the list sweep returns it; `owner` writes our (or another set's) marker."""
    token = f"tok{sid:06d}"
    out: dict[str, Any] = {
        "id": sid,
        "name": name if name is not None else (owner.key if owner else f"stream-{sid}"),
        **STREAM_DEFAULTS,
        "token": token,
        "push_url": f"rtmp://vp-push-ed2.gvideo.co/in/{sid}?{token}",
        "created_at": "2026-01-01T00:00:00Z",
    }
    out.update(fields)
    out["client_entity_data"] = entity if entity is not None else encode_entity_data(owner, user)
    return out


def lock_stream(sid: int, set_name: str = SET) -> dict[str, Any]:
    payload = f'{{"{LOCK_KEY}": {{"set": "{set_name}", "owner": "ci", "expires_at": 1}}}}'
    return stream(sid, f"reconciler-lock: {set_name}", entity=payload)


def broadcast(bid: int, name: str, stream_ids: Iterable[int], **fields: Any) -> dict[str, Any]:
    return {"id": bid, "name": name, **BROADCAST_DEFAULTS, "stream_ids": list(stream_ids), **fields}


def dstream(
    key: str,
    *,
    user: Mapping[str, Any] | None = None,
    recording: bool | None = None,
    adopt_id: int | None = None,
    protect: bool = False,
    orphan: bool = False,
    **fields: Any,
) -> DesiredStream:
    return DesiredStream(
        key=key,
        fields={"name": key, **fields},
        user_entity_data=user,
        recording=recording,
        adopt_id=adopt_id,
        policy=_policy(protect, orphan),
    )


def dbroadcast(
    key: str,
    streams: Iterable[str],
    *,
    adopt_id: int | None = None,
    protect: bool = False,
    orphan: bool = False,
    pause_on_interruption: bool = False,
    **fields: Any,
) -> DesiredBroadcast:
    return DesiredBroadcast(
        key=key,
        fields={"name": key, **fields},
        stream_keys=tuple(streams),
        adopt_id=adopt_id,
        policy=_policy(protect, orphan),
        pause_on_interruption=pause_on_interruption,
    )


def _policy(protect: bool, orphan: bool) -> ResourcePolicy:
    deletion = DeletionPolicy.ORPHAN if orphan else DeletionPolicy.DELETE
    return ResourcePolicy(protect=protect, deletion=deletion)


def desired(
    streams: Iterable[DesiredStream] = (),
    broadcasts: Iterable[DesiredBroadcast] = (),
    *,
    set_name: str = SET,
    prune: bool = True,
) -> DesiredState:
    return DesiredState(
        settings=Settings(set_name=set_name, prune=prune),
        streams={s.key: s for s in streams},
        broadcasts={b.key: b for b in broadcasts},
    )


def live(*objects: dict[str, Any]) -> LiveState:
    """Streams and broadcasts in one list: broadcasts are the dicts with `stream_ids`."""
    return LiveState.from_raw(
        streams=tuple(o for o in objects if "stream_ids" not in o),
        broadcasts=tuple(o for o in objects if "stream_ids" in o),
    )
