"""Ownership markers: encode/decode the reserved key inside a stream's `client_entity_data`.

The marker is the only record of what this manifest set owns (invariant 2). Pure functions;
knows nothing of the API client or the planner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import MarkerTooLarge

RESERVED_KEY = "reconciler"
LOCK_KEY = (
    "reconciler-lock"  # marker of the lock stream (see reconciler.lock.lease); never a resource
)
MAX_ENTITY_DATA = 4096  # API limit of client_entity_data, in characters


@dataclass(frozen=True, slots=True)
class Marker:
    set_name: str
    key: str  # manifest key of the stream
    broadcasts: Mapping[str, int] = field(default_factory=dict)  # managed broadcast key -> id
    protect: bool = False  # survives removal from the manifests
    orphan: bool = False  # deletion policy orphan: release instead of delete
    protected_broadcasts: frozenset[str] = frozenset()
    orphan_broadcasts: frozenset[str] = frozenset()
    # ids of broadcasts released by deletion policy orphan: never recovered by name again
    released_broadcasts: frozenset[int] = frozenset()
    # broadcast key -> name of a broadcast this set is about to create on this stream, written
    # before the POST and cleared when its id is recorded: the only evidence that lets a later
    # run recover an interrupted create by name (a look-alike made by hand is never ours)
    intents: Mapping[str, str] = field(default_factory=dict)
    # Interruption evidence (docs/planning.md): broadcast key -> this stream's last ingest event
    # (the platform's timestamp text, "" when it never had one) when we set the broadcast live.
    live_after: Mapping[str, str] = field(default_factory=dict)

    def to_json_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"set": self.set_name, "key": self.key}
        if self.broadcasts:
            value["broadcasts"] = dict(sorted(self.broadcasts.items()))
        if self.protect:
            value["protect"] = True
        if self.orphan:
            value["orphan"] = True
        if self.protected_broadcasts:
            value["protected_broadcasts"] = sorted(self.protected_broadcasts)
        if self.orphan_broadcasts:
            value["orphan_broadcasts"] = sorted(self.orphan_broadcasts)
        if self.released_broadcasts:
            value["released_broadcasts"] = sorted(self.released_broadcasts)
        if self.intents:
            value["creating"] = dict(sorted(self.intents.items()))
        if self.live_after:
            value["live_after"] = dict(sorted(self.live_after.items()))
        return value


@dataclass(frozen=True, slots=True)
class EntityData:
    """A decoded `client_entity_data`: our marker (if any) and everything else beside it."""

    marker: Marker | None
    user_data: Mapping[str, Any] | None  # the other keys when the field is a JSON object
    raw: str | None  # the field as stored (for values that are not a JSON object)


def decode_entity_data(raw: str | None) -> EntityData:
    """Never raises: text that is not our JSON object simply carries no marker."""
    if not raw:
        return EntityData(marker=None, user_data=None, raw=raw)
    try:
        value = json.loads(raw)
    except ValueError:
        return EntityData(marker=None, user_data=None, raw=raw)
    if not isinstance(value, dict):
        return EntityData(marker=None, user_data=None, raw=raw)
    user = {k: v for k, v in value.items() if k != RESERVED_KEY}
    return EntityData(marker=_marker_from(value.get(RESERVED_KEY)), user_data=user or None, raw=raw)


def _marker_from(value: Any) -> Marker | None:
    if not isinstance(value, dict):
        return None
    set_name, key = value.get("set"), value.get("key")
    if not isinstance(set_name, str) or not isinstance(key, str):
        return None
    broadcasts = value.get("broadcasts") or {}
    if not isinstance(broadcasts, dict):
        broadcasts = {}
    plain: dict[str, Any] = {
        "set_name": set_name,
        "key": key,
        "broadcasts": {str(k): int(v) for k, v in broadcasts.items() if isinstance(v, int)},
        "protect": value.get("protect") is True,
        "orphan": value.get("orphan") is True,
    }
    if value.keys() <= _PLAIN_MARKER:  # no lists or maps beyond `broadcasts` (most markers)
        return Marker(**plain)
    return Marker(
        **plain,
        protected_broadcasts=frozenset(_strings(value.get("protected_broadcasts"))),
        orphan_broadcasts=frozenset(_strings(value.get("orphan_broadcasts"))),
        released_broadcasts=frozenset(_ints(value.get("released_broadcasts"))),
        intents=_names(value.get("creating")),
        live_after=_texts(value.get("live_after")),
    )


# The keys a marker without any of the optional lists and maps has (see `to_json_value`).
_PLAIN_MARKER = frozenset({"set", "key", "broadcasts", "protect", "orphan"})


def _names(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _ints(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]


def _texts(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def encode_entity_data(marker: Marker | None, user_data: Mapping[str, Any] | None) -> str | None:
    """Compact, key-sorted JSON so that equal content always gives equal text (no false diffs)."""
    value: dict[str, Any] = dict(user_data or {})
    if marker is not None:
        value[RESERVED_KEY] = marker.to_json_value()
    if not value:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_ENTITY_DATA:
        what = f"stream '{marker.key}'" if marker else "stream"
        raise MarkerTooLarge(
            f"{what}: client_entity_data would be {len(text)} characters, the API allows "
            f"{MAX_ENTITY_DATA}; shorten the client_entity_data mapping or use fewer broadcasts "
            "per stream"
        )
    return text
