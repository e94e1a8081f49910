"""The live account as read by one list sweep per kind (never one GET per object), parsed once at
the read into small immutable typed objects that keep the raw dict for what they do not model.

This is the one place that decodes a stream's `client_entity_data`. Odd account data (an entity
value that is not text, nested absurdly deep, a name that is not valid text) never raises here:
the stream is marked `odd` and treated as nobody's. Knows the API only through `StreamingAPI`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.model.marker import (
    LOCK_KEY,
    MAX_ENTITY_DEPTH,
    EntityData,
    Marker,
    decode_entity_data,
    json_nesting,
)

Json = dict[str, Any]
ENTITY = "client_entity_data"
# Changing one moves or cuts the encoder off (the live-safety table: reconciler.safety.guards).
INGEST_FIELDS = ("transcoding_region", "pull", "uri", "srt_passphrase")
_NO_ENTITY = EntityData(marker=None, user_data=None, raw=None)


@dataclass(frozen=True, slots=True)
class ParsedEntity:
    """A stream's decoded `client_entity_data`, or why it could not be read as ours."""

    data: EntityData
    odd: str | None = None  # why the value is unreadable (then `data` carries no marker)


def parse_entity(value: Any) -> ParsedEntity:
    """Decode a `client_entity_data` value as the API returned it; never raises."""
    return ParsedEntity(*_entity(value))


def _entity(value: Any) -> tuple[EntityData, str | None]:
    if value is None or value == "":
        return _NO_ENTITY, None
    if not isinstance(value, str):
        kind = "a number" if isinstance(value, int | float) else f"a JSON {type(value).__name__}"
        return _NO_ENTITY, f"its client_entity_data is {kind}, not text"
    if (
        value.count("[") + value.count("{") > MAX_ENTITY_DEPTH
        and json_nesting(value) > MAX_ENTITY_DEPTH
    ):
        return (
            EntityData(marker=None, user_data=None, raw=value),
            f"its client_entity_data is nested deeper than {MAX_ENTITY_DEPTH} levels",
        )
    return decode_entity_data(value), None


def marker_in(value: Any) -> Marker | None:
    """Our marker (of any set) in a `client_entity_data` value, or None."""
    return _entity(value)[0].marker


def platform_time(value: Any) -> datetime | None:
    """A time as the platform writes it (ISO 8601; UTC when it names no zone), or None when it
    is missing or unreadable: the one reading of `started_at_*`, `finished_at_*`, `created_at`."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text_problem(value: Any) -> str | None:
    """Why a listed name cannot be printed (a lone surrogate is not valid UTF-8), or None."""
    if not isinstance(value, str) or value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid text (a lone surrogate)"
    return None


def printable(value: Any) -> str:
    """A value as text that can always be printed (invalid code points escaped)."""
    text = value if isinstance(value, str) else str(value or "")
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _text_problem(text) else text


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class LiveStream:
    id: int
    raw: Json = field(repr=False)
    entity: EntityData = field(repr=False)
    odd: str | None = None  # why this stream is treated as nobody's (see the module docstring)

    @classmethod
    def parse(cls, raw: Json) -> LiveStream:
        entity, odd = _entity(raw.get(ENTITY))
        odd = odd or _text_problem(raw.get("name"))
        if odd and entity.marker:
            entity = _NO_ENTITY
        return cls(int(raw["id"]), raw, entity, odd)

    def get(self, name: str, default: Any = None) -> Any:
        """A field this model does not name (diffing compares declared fields by name)."""
        return self.raw.get(name, default)

    @property
    def name(self) -> str:
        return printable(self.raw.get("name"))

    @property
    def marker(self) -> Marker | None:
        return self.entity.marker

    @property
    def user_data(self) -> Mapping[str, Any] | None:
        return self.entity.user_data

    @property
    def released_by(self) -> str | None:
        """The set that released this stream (deletion policy orphan), per its release record."""
        return self.entity.released_by

    @property
    def is_lock(self) -> bool:
        """The lock stream of some set (see reconciler.lock): never a resource."""
        return LOCK_KEY in (self.entity.user_data or {}) or self.name.startswith(LOCK_KEY)

    @property
    def carries_lock_record(self) -> bool:
        return LOCK_KEY in (self.entity.user_data or {})

    @property
    def live(self) -> bool:
        return bool(self.raw.get("live"))

    @property
    def backup_live(self) -> bool:
        return bool(self.raw.get("backup_live"))

    @property
    def on_air(self) -> bool:
        """An encoder is connected to the primary or the backup ingest."""
        return self.live or self.backup_live

    def down_for(self, now: datetime) -> float | None:
        """Seconds since the primary encoder's session ended (`finished_at_primary`), while no
        encoder is connected; None on air, with no session ended, or an unreadable time."""
        ended = None if self.on_air else platform_time(self.raw.get("finished_at_primary"))
        return None if ended is None else max(0.0, (now - ended).total_seconds())

    @property
    def active(self) -> bool:
        return bool(self.raw.get("active"))

    @property
    def recording(self) -> bool:
        return bool(self.raw.get("recording"))

    @property
    def started_at_primary(self) -> str | None:
        value = self.raw.get("started_at_primary")
        return value if isinstance(value, str) and value else None

    @property
    def broadcast_ids(self) -> tuple[int, ...]:
        return tuple(i for i in map(_int, self.raw.get("broadcast_ids") or ()) if i is not None)

    @property
    def client_user_id(self) -> int | None:
        return _int(self.raw.get("client_user_id"))


@dataclass(frozen=True, slots=True)
class LiveBroadcast:
    id: int
    stream_ids: tuple[int, ...]
    raw: Json = field(repr=False)

    @classmethod
    def parse(cls, raw: Json) -> LiveBroadcast:
        listed = raw.get("stream_ids") or ()
        if all(type(i) is int for i in listed):
            ids = tuple(listed)
        else:
            ids = tuple(i for i in map(_int, listed) if i is not None)
        return cls(int(raw["id"]), ids, raw)

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    @property
    def name(self) -> str:
        return printable(self.raw.get("name"))

    @property
    def status(self) -> str | None:
        value = self.raw.get("status")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class LiveVideo:
    id: int | None
    stream_id: int | None
    raw: Json = field(repr=False)

    @classmethod
    def parse(cls, raw: Json) -> LiveVideo:
        return cls(id=_int(raw.get("id")), stream_id=_int(raw.get("stream_id")), raw=raw)

    @property
    def name(self) -> str:
        return printable(self.raw.get("name"))

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


@dataclass(frozen=True)
class LiveState:
    streams: tuple[LiveStream, ...]
    broadcasts: tuple[LiveBroadcast, ...]
    # Stream id -> seconds since its encoder dropped, for drops within the drop grace: the
    # live-safety rule takes these streams as on air (set by reconciler.safety.dropgrace).
    recent_drops: Mapping[int, float] = field(default_factory=dict)
    drop_grace: float = 0.0  # the grace those drops are within, in seconds

    @classmethod
    def from_raw(cls, streams: Iterable[Json], broadcasts: Iterable[Json] = ()) -> LiveState:
        """Parse listed objects (each exactly once)."""
        return cls(
            streams=tuple(map(LiveStream.parse, streams)),
            broadcasts=tuple(map(LiveBroadcast.parse, broadcasts)),
        )

    @cached_property
    def stream_by_id(self) -> Mapping[int, LiveStream]:
        return {s.id: s for s in self.streams}

    @cached_property
    def broadcast_by_id(self) -> Mapping[int, LiveBroadcast]:
        return {b.id: b for b in self.broadcasts}

    @cached_property
    def ownership_cache(self) -> dict[str, Any]:
        """Set name -> its ownership index (reconciler.model.ownership builds it, once)."""
        return {}


def reparse_streams(listing: Iterable[Json], known: Iterable[LiveStream]) -> tuple[LiveStream, ...]:
    """A new listing parsed, reusing the objects already parsed from the very same dicts."""
    parsed = {id(s.raw): s for s in known}
    return tuple(parsed.get(id(raw)) or LiveStream.parse(raw) for raw in listing)


def read_live(api: StreamingAPI) -> LiveState:
    """Both sweeps must succeed: a failed read raises, so nothing is ever pruned on partial data."""
    return LiveState.from_raw(api.list_streams(), api.list_broadcasts())
