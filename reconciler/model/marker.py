"""Ownership markers: encode/decode the reserved key inside a stream's `client_entity_data`.

The marker is the only record of what this manifest set owns (invariant 2); a release record
(`{"released_by": set}`) in its place says a set let the stream go (deletion policy orphan).
Pure functions; knows nothing of the API client or the planner.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import MarkerTooLarge

RESERVED_KEY = "reconciler"
LOCK_KEY = (
    "reconciler-lock"  # marker of the lock stream (see reconciler.lock.lease); never a resource
)
MAX_ENTITY_DATA = 4096  # API limit of client_entity_data, in characters
# Deeper JSON in client_entity_data is not read as anybody's (model/live.py) and not walked
# further; the manifest refuses a deeper mapping (the mapping itself is level 1, as stored).
MAX_ENTITY_DEPTH = 64
# What a stream released by deletion policy orphan keeps under the reserved key instead of our
# marker: `{"released_by": <set name>}`. Nobody owns such a stream (it is no marker), but no
# Cleanup ever selects it: a set let it go on purpose, and a person keeps it now.
RELEASED_BY = "released_by"


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
    # The marker's stored JSON value is exactly what `Marker.to_json_value` gives for `marker`
    # (same keys, same JSON types): then the stored value is `encode_entity_data(marker,
    # user_data)`'s, and a planner can compare markers instead of encoding one (`same_entity`).
    exact: bool = False
    released_by: str | None = None  # the set whose release record stands in for a marker
    # The stored text is one JSON object (`{}`, a release record alone: `user_data` is None
    # all the same); False for empty or absent text, and for text that is not one.
    is_object: bool = False

    @property
    def not_an_object(self) -> bool:
        """Text is stored and it is not one JSON object: no marker can sit beside it."""
        return bool(self.raw) and not self.is_object

    def same_entity(self, marker: Marker, user_data: Mapping[str, Any] | None) -> bool:
        """Whether writing (marker, user_data) would store this very JSON value: known without
        encoding when the stored marker is `exact`, `marker` equals it and `user_data` is the
        same JSON as the stored user part. False means "not known": compare the encoded text."""
        if not self.exact or (marker is not self.marker and marker != self.marker):
            return False
        return _same_user(user_data, self.user_data)


def decode_entity_data(raw: str | None) -> EntityData:
    """Never raises: text that is not our JSON object simply carries no marker."""
    if not raw:
        return EntityData(marker=None, user_data=None, raw=raw)
    try:
        value = _scan(raw, 0) if raw[0] == "{" and raw[-1] == "}" else (None, 0)
        if value[1] != len(raw):  # not one JSON object alone: the full decoder decides
            value = (json.loads(raw), 0)
    except (ValueError, StopIteration):
        return EntityData(marker=None, user_data=None, raw=raw)
    data = value[0]
    if not isinstance(data, dict):
        return EntityData(marker=None, user_data=None, raw=raw)
    stored = data.pop(RESERVED_KEY, None)
    marker, exact = _marker_from(stored)
    released = released_by_in(stored) if marker is None else None
    return EntityData(marker, data or None, raw, exact, released, is_object=True)


def release_record(set_name: str) -> dict[str, str]:
    """The value left under the reserved key when `set_name` releases a stream. Always shorter
    than the marker it replaces (which holds the set name and a key), so it fits where it did."""
    return {RELEASED_BY: set_name}


def released_by_in(value: Any) -> str | None:
    """The set named by a release record (the reserved key's value), or None."""
    if isinstance(value, dict) and value.keys() == {RELEASED_BY}:
        name = value[RELEASED_BY]
        return name if isinstance(name, str) else None
    return None


# The C scanner `json.loads` ends in: a text that is one object from its first to its last
# character is decoded without the wrapper's whitespace and trailing-data checks (same result).
# (The stub types the scanner's context as the scanner; json itself passes the decoder.)
_scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]
)


def _marker_from(value: Any) -> tuple[Marker | None, bool]:
    """The marker in a stored value, and whether the value is exactly its `to_json_value`."""
    if not isinstance(value, dict):
        return None, False
    set_name, key = value.get("set"), value.get("key")
    if not isinstance(set_name, str) or not isinstance(key, str):
        return None, False
    broadcasts = value.get("broadcasts")
    if type(broadcasts) is dict and all(type(v) is int for v in broadcasts.values()):
        ids, exact_ids = broadcasts, bool(broadcasts)  # the decoded map itself (keys are text)
    else:
        ids = _ids_of(broadcasts)
        exact_ids = False
    protect, orphan = value.get("protect"), value.get("orphan")
    if value.keys() <= _PLAIN_MARKER:  # no lists or maps beyond `broadcasts` (most markers)
        marker = Marker(set_name, key, ids, protect is True, orphan is True)
        exact = (
            (exact_ids or "broadcasts" not in value)
            and (protect is True or "protect" not in value)
            and (orphan is True or "orphan" not in value)
        )
        return marker, exact
    marker = Marker(
        set_name,
        key,
        ids,
        protect is True,
        orphan is True,
        protected_broadcasts=frozenset(_strings(value.get("protected_broadcasts"))),
        orphan_broadcasts=frozenset(_strings(value.get("orphan_broadcasts"))),
        released_broadcasts=frozenset(_ints(value.get("released_broadcasts"))),
        intents=_names(value.get("creating")),
        live_after=_texts(value.get("live_after")),
    )
    return marker, _same_json(marker.to_json_value(), value)


# The keys a marker without any of the optional lists and maps has (see `to_json_value`).
_PLAIN_MARKER = frozenset({"set", "key", "broadcasts", "protect", "orphan"})


def _same_json(a: Any, b: Any) -> bool:
    """The same JSON value with the same types (1 and 1.0 or True differ; NaN is never the same)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return _same_members(a, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same_json, a, b))
    return bool(a == b)


def _same_user(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Two user parts of `client_entity_data` that are the same JSON (None and {} mean none)."""
    if a is None and b is None:
        return True  # most streams: no data of the user's
    return _same_members(a or {}, b or {})


def _same_members(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """The same keys, each holding the same JSON value (`_same_json`)."""
    return a.keys() == b.keys() and all(_same_json(v, b[k]) for k, v in a.items())


def _ids_of(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}


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


def json_nesting(text: str) -> int:
    """The deepest bracket nesting of JSON text, outside strings, without recursion
    (`{"a": [1]}` is 2)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def encode_entity_data(
    marker: Marker | None, user_data: Mapping[str, Any] | None, released_by: str | None = None
) -> str | None:
    """Compact, key-sorted JSON so that equal content always gives equal text (no false diffs).
    `released_by` (without a marker): the release record, left out if it would not fit."""
    value: dict[str, Any] = dict(user_data or {})
    if marker is not None:
        value[RESERVED_KEY] = marker.to_json_value()
    elif released_by is not None:
        value[RESERVED_KEY] = release_record(released_by)
    if not value:
        return None
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_ENTITY_DATA and marker is None and released_by is not None:
        return encode_entity_data(None, user_data)  # the user's keys grew since: release anyway
    if len(text) > MAX_ENTITY_DATA:
        what = f"stream '{marker.key}'" if marker else "stream"
        raise MarkerTooLarge(
            f"{what}: client_entity_data would be {len(text)} characters, the API allows "
            f"{MAX_ENTITY_DATA}; shorten the client_entity_data mapping or use fewer broadcasts "
            "per stream"
        )
    return text
