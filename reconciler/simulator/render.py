"""Turns the simulator's private state of a stream, broadcast or video into the API object and the
webhook payloads the platform sends. Pure functions; no storage, no HTTP.
"""

from __future__ import annotations

from typing import Any

from reconciler.simulator.clock import iso
from reconciler.simulator.validate import BROADCAST_FIELDS, STREAM_DEFAULTS

Json = dict[str, Any]

DEFAULT_REGION = "ed1"
PLAY_HOST = "https://demo-public.gvideo.io"
RENDITIONS = (("vod720n", 1280, 720), ("vod480n", 854, 480), ("vod360n", 640, 360),
              ("vod240n", 426, 240))  # fmt: skip
LIVE_QUALITIES = ["360n", "480n", "720n"]


def region_of(state: Json) -> str:
    return str(state.get("transcoding_region") or DEFAULT_REGION)


def _ts(value: float | None) -> str | None:
    return None if value is None else iso(value)


def render_stream(state: Json, client_id: int, now: float) -> Json:
    sid, token, region = state["id"], state["token"], region_of(state)
    backup_region = region  # one region per stream; the tutorial's mixed hosts are not modelled
    body: Json = {"id": sid, "name": state["name"]}
    for key in STREAM_DEFAULTS:
        body[key] = state[key]
    live, backup_live = state["live"], state["backup_live"]
    body.update(
        {
            "transcoding_region": region,  # the effective one: "ed1" when never set
            "token": token,
            "live": live,
            "backup_live": backup_live,
            "recording": state["recording"],
            "recording_duration": (
                round(now - state["recording_started_at"], 3) if state["recording"] else None
            ),
            "active_ingest_region_primary": region if live else None,
            "active_ingest_region_backup": backup_region if backup_live else None,
            "stream_source_type": state["source_type"] if (live or backup_live) else None,
            "push_url": f"rtmp://vp-push-{region}.gvideo.co/in/{sid}?{token}",
            "backup_push_url": f"rtmp://vp-push-{backup_region}.gvideo.co/in/{sid}b?{token}",
            "push_url_srt": f"srt://vp-push-{region}-srt.gvideo.co:5001?streamid={sid}#{token}",
            "backup_push_url_srt": (
                f"srt://vp-push-{backup_region}-srt.gvideo.co:5001?streamid={sid}b#{token}"
            ),
            "push_url_whip": f"https://whip.gvideo.co/{sid}_{client_id}/whip",
            "created_at": iso(state["created_at"]),
            "started_at_primary": _ts(state["started_at_primary"]),
            "started_at_backup": _ts(state["started_at_backup"]),
            "finished_at_primary": _ts(state["finished_at_primary"]),
            "iframe_url": f"https://player.gvideo.co/streams/{client_id}_{sid}",
            "hls_cmaf_url": f"{PLAY_HOST}/cmaf/{client_id}_{sid}/master.m3u8",
            "dash_url": f"{PLAY_HOST}/cmaf/{client_id}_{sid}/index.mpd",
            "hls_mpegts_url": f"{PLAY_HOST}/mpegts/{client_id}_{sid}/master_mpegts.m3u8",
            "screenshot": f"{PLAY_HOST}/screenshots/{client_id}_{sid}/last.jpg",
            "transcoded_qualities": list(LIVE_QUALITIES) if state["ever_live"] else None,
            "transcoding_speed": 1.0 if (live or backup_live) else None,
            "frame_rate": 30.0 if (live or backup_live) else None,
            "video_height": 1080.0 if (live or backup_live) else None,
            "video_width": 1920.0 if (live or backup_live) else None,
            "html_overlays": [],
        }
    )
    return body


def render_broadcast(state: Json) -> Json:
    body: Json = {"id": state["id"]}
    for key in BROADCAST_FIELDS:
        value = state.get(key)
        if value is None and key in ("ad_id", "player_id", "poster", "pending_message"):
            continue  # the spec types these as non-null; an unset one is left out
        body[key] = value
    return body


def render_video(state: Json, client_id: int) -> Json:
    vid, slug, status = state["id"], state["slug"], state["status"]
    base = f"{PLAY_HOST}/videos/{client_id}_{slug}"
    renditions = []
    for index, (name, width, height) in enumerate(RENDITIONS):
        done = status == "ready" or (status == "viewable" and index == 0)
        renditions.append(
            {
                "id": vid * 10 + index,
                "name": name,
                "width": width,
                "height": height,
                "size": state["size"] // (index + 1) if done else None,
                "progress": 100 if done else 0,
                "status": "complete" if done else "processing",
                "error": None,
                "mp4_url": f"{base}/{name}.mp4",
            }
        )
    return {
        "id": vid,
        "name": state["name"],
        "description": "",
        "client_id": client_id,
        "slug": slug,
        "status": status,
        "duration": state["duration"],
        "origin_video_duration": state["duration"],
        "origin_size": state["size"],
        "origin_url": None,
        "stream_id": state["stream_id"],
        "recording_started_at": iso(state["recording_started_at"]),
        "record_type": state["record_type"],
        "created_at": iso(state["created_at"]),
        "updated_at": iso(state["updated_at"]),
        "hls_url": f"{base}/master.m3u8",
        "hls_cmaf_url": f"{base}/master-cmaf.m3u8",
        "dash_url": f"{base}/master.mpd",
        "screenshot": f"{base}/screenshot-0.jpg",
        "screenshots": [f"{base}/screenshot-0.jpg"],
        "screenshot_id": 0,
        "poster": None,
        "poster_thumb": None,
        "share_url": "",
        "custom_iframe_url": "",
        "views": 0,
        "cdn_views": 0,
        "client_user_id": state["client_user_id"],
        "directory_id": None,
        "quality_set_id": None,
        "priority": 0,
        "projection": state["projection"],
        "converted_videos": renditions,
        "sprite": f"{base}/sprite.jpg",
        "sprite_vtt": f"{base}/sprite.vtt",
        "iframe_url": f"https://player.gvideo.co/videos/{client_id}_{slug}",
    }


VIDEO_DETAIL_ONLY = ("sprite", "sprite_vtt", "iframe_url")


def list_item(video: Json) -> Json:
    """`videoListItem`: the details without sprite and player fields."""
    return {k: v for k, v in video.items() if k not in VIDEO_DETAIL_ONLY}


def stream_event(state: Json, *, transcoding: bool | None = None) -> Json:
    live = state["live"] or state["backup_live"]
    return {
        "type": "stream",
        "message": {
            "stream": {
                "id": state["id"],
                "live": state["live"],
                "backup_live": state["backup_live"],
                "recording": state["recording"],
                "transcoding": live if transcoding is None else transcoding,
                "client_user_id": state["client_user_id"],
                "client_entity_data": state["client_entity_data"],
                "pull": state["pull"],
                "uri": state["uri"],
                "stream_source_type": state["source_type"] if live else None,
            }
        },
    }


def broadcast_event(state: Json) -> Json:
    return {"type": "broadcast", "message": {"broadcast": {"id": state["id"],
                                                           "status": state["status"]}}}  # fmt: skip


def video_event(video: Json, kind: str = "video") -> Json:
    keys = ("id", "slug", "name", "duration", "stream_id", "status", "client_user_id")
    payload = {k: video[k] for k in keys}
    payload["converted_videos"] = [
        {"name": r["name"], "status": r["status"], "mp4_url": r["mp4_url"]}
        for r in video["converted_videos"]
    ]
    return {"type": kind, "message": {"video": payload}}
