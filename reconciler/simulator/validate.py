"""Validation of stream and broadcast bodies as the platform does it: writable fields only, typed
like `createStream`/`createBroadcast` in the official spec, errors as `{field: [message]}`.

Unknown fields are ignored (the platform ignores them too, e.g. the tutorial's `webrtc`).
Knows nothing about storage or HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Json = dict[str, Any]
Errors = dict[str, list[str]]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
BROADCAST_STATUSES = ("pending", "live", "paused", "finished")
PROJECTIONS = ("regular", "vr360", "vr180", "vr360tb")
RECORD_TYPES = ("origin", "transcoded")
REGION_RE = re.compile(r"^[a-z]{2,5}[0-9]{0,3}$")
SRT_PASSPHRASE_RE = re.compile(r"^[!-~]+$")

Check = Callable[[Any], str | None]  # returns an error message, or None when valid


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "must be a boolean"


def _int(v: Any, low: int = INT64_MIN, high: int = INT64_MAX) -> str | None:
    if not isinstance(v, int) or isinstance(v, bool):
        return "must be an integer"
    if v < low:
        return f"must be greater than or equal to {low}"
    if v > high:
        return f"must be less than or equal to {high}"
    return None


def _nullable(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def _str(max_len: int | None = None) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str):
            return "must be a string"
        if max_len is not None and len(v) > max_len:
            return f"is too long (maximum is {max_len} characters)"
        return None

    return check


def _enum(values: tuple[str, ...]) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str) or v not in values:
            return f"is not included in the list ({', '.join(values)})"
        return None

    return check


def _int_list(v: Any) -> str | None:
    if not isinstance(v, list):
        return "must be an array of integers"
    if any(_int(i, 1) is not None for i in v):
        return "must be an array of positive integers"
    return None


def _srt_passphrase(v: Any) -> str | None:
    if not isinstance(v, str):
        return "must be a string"
    if not 10 <= len(v) <= 80:
        return "must be 10 to 80 characters long"
    if not SRT_PASSPHRASE_RE.match(v):
        return "must contain printable ASCII characters without spaces"
    return None


def _region(v: Any) -> str | None:
    if not isinstance(v, str) or not REGION_RE.match(v):
        return "is not a valid region code (e.g. ed1, ix1, dt1)"
    return None


def _name(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return "can't be blank"
    return _str(255)(v)


STREAM_FIELDS: dict[str, Check] = {
    "name": _name,
    "active": _bool,
    "pull": _bool,
    "uri": _nullable(_str(2048)),
    "srt_passphrase": _nullable(_srt_passphrase),
    "auto_record": _bool,
    "record_type": _enum(RECORD_TYPES),
    "hls_mpegts_endlist_tag": _bool,
    "dvr_enabled": _bool,
    "dvr_duration": lambda v: _int(v, 30, 14400),
    "cdn_id": _nullable(_int),
    "client_user_id": _nullable(_int),
    "client_entity_data": _nullable(_str(4096)),
    "html_overlay": _bool,
    "quality_set_id": _nullable(_int),
    "broadcast_ids": _int_list,
    "projection": _enum(PROJECTIONS),
    "transcoding_region": _nullable(_region),  # the tutorial's field; gone from the spec
}

STREAM_DEFAULTS: Json = {
    "active": False,
    "pull": False,
    "uri": None,
    "srt_passphrase": None,
    "auto_record": False,
    "record_type": "origin",
    "hls_mpegts_endlist_tag": True,
    "dvr_enabled": False,
    "dvr_duration": 3600,
    "cdn_id": None,
    "client_user_id": None,
    "client_entity_data": None,
    "html_overlay": False,
    "quality_set_id": None,
    "broadcast_ids": [],
    "projection": "regular",
}


def _status(v: Any) -> str | None:
    if v is None or v == "":
        return "can't be blank"
    if not isinstance(v, str) or v.lower() not in BROADCAST_STATUSES:
        return f"is not included in the list ({', '.join(BROADCAST_STATUSES)})"
    return None


BROADCAST_FIELDS: dict[str, Check] = {
    "name": _name,
    "status": _status,
    "share_url": _nullable(_str(2048)),
    "custom_iframe_url": _nullable(_str(2048)),
    "show_dvr_after_finish": _bool,
    "pending_message": _nullable(_str(4096)),
    "ad_id": _nullable(_int),
    "player_id": _nullable(_int),
    "stream_ids": _int_list,
    "poster": _nullable(_str(2048)),
}

BROADCAST_DEFAULTS: Json = {
    "share_url": "",
    "custom_iframe_url": "",
    "show_dvr_after_finish": False,
    "pending_message": None,
    "ad_id": None,
    "player_id": None,
    "stream_ids": [],
    "poster": None,
}


def unwrap(body: Json, key: str) -> Json | None:
    """`{"stream": {...}}` or the flat object; None when the wrapper holds a non-object."""
    if key in body:
        inner = body[key]
        return inner if isinstance(inner, dict) else None
    return body


def clean(body: Json, fields: dict[str, Check], required: tuple[str, ...]) -> tuple[Json, Errors]:
    """Known fields of `body` that pass their check, and the errors of the others."""
    values: Json = {}
    errors: Errors = {}
    for name in required:
        if name not in body:
            errors[name] = ["can't be blank"]
    for name, check in fields.items():
        if name not in body:
            continue
        message = check(body[name])
        if message:
            errors.setdefault(name, []).append(message)
        else:
            values[name] = body[name]
    if isinstance(values.get("status"), str):
        values["status"] = values["status"].lower()
    for key in ("broadcast_ids", "stream_ids"):
        if key in values:
            values[key] = list(dict.fromkeys(values[key]))  # dedupe, keep order
    return values, errors
