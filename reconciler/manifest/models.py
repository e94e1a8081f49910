"""Pydantic models of the manifest documents (the edge: strict types, unknown fields forbidden).

They check one document at a time; cross-document rules live in `build.py`. Knows nothing of
files, YAML or the API client.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from reconciler.model.marker import LOCK_KEY, MAX_ENTITY_DEPTH, RESERVED_KEY, json_nesting

KEY_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
KEY_RE = re.compile(KEY_PATTERN)
DURATION_RE = re.compile(r"^(?:\d+[smhdw])+$")
SRT_PASSPHRASE_RE = re.compile(r"^[!-~]{10,80}$")  # the API's rule: printable ASCII, no spaces

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _reject_null(value: Any) -> Any:
    # Optional in the model only so that "not declared" is visible; an explicit null is an error.
    if value is None:
        raise ValueError("must not be null; leave the field out to keep the platform's value")
    return value


_NOT_NULL_STREAM = (
    "name", "active", "pull", "auto_record", "record_type", "hls_mpegts_endlist_tag",
    "dvr_enabled", "dvr_duration", "html_overlay", "projection", "transcoding_region",
    "recording",
)  # fmt: skip
_NOT_NULL_BROADCAST = (
    "name", "status", "pending_message", "share_url", "custom_iframe_url",
    "show_dvr_after_finish",
)  # fmt: skip


def _schema_without_null(names: tuple[str, ...]) -> Any:
    """json_schema_extra: drop the `null` alternative of fields that reject an explicit null."""

    def strip(schema: dict[str, Any]) -> None:
        for name in names:
            prop = schema.get("properties", {}).get(name, {})
            options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
            if len(options) == 1:
                prop.update(options[0])
            elif options:
                prop["anyOf"] = options
            if prop.get("default", 0) is None:
                del prop["default"]

    return strip


# --- policies ---------------------------------------------------------------------------------


class StreamPolicy(_Model):
    protect: bool = Field(False, description="Never deleted by prune, even after removal.")
    deletion: Literal["delete", "orphan"] = Field(
        "delete", description="delete: removal deletes the object; orphan: release it, keep it."
    )
    allow_live_changes: bool = Field(
        False, description="Let changes through that would disturb a live stream."
    )


class BroadcastPolicy(StreamPolicy):
    pause_on_interruption: bool = Field(
        False, description="live -> paused while its streams are down, and back."
    )
    go_live: Literal["immediately", "when_on_air"] = Field(
        "immediately",
        description=(
            "For status live: immediately, or when_on_air: stay pending until one of its "
            "streams is on air (an encoder connected), then go live."
        ),
    )


# --- specs ------------------------------------------------------------------------------------


class StreamSpec(_Model):
    """Writable stream fields of the API (createStream) + `transcoding_region` and `recording`."""

    model_config = ConfigDict(json_schema_extra=_schema_without_null(_NOT_NULL_STREAM))

    name: Text | None = Field(None, description="Platform title; defaults to the manifest key.")
    active: bool | None = None
    pull: bool | None = None
    uri: str | None = Field(None, description="PULL source URL(s), space separated.")
    srt_passphrase: str | None = Field(
        None, description="10-80 printable ASCII characters without spaces; use ${VAR}."
    )
    auto_record: bool | None = None
    record_type: Literal["origin", "transcoded"] | None = None
    hls_mpegts_endlist_tag: bool | None = None
    dvr_enabled: bool | None = None
    dvr_duration: Annotated[int, Field(ge=30, le=14400)] | None = Field(
        None, description="Seconds, 30..14400."
    )
    cdn_id: int | None = None
    client_user_id: int | None = None
    client_entity_data: dict[str, Any] | None = Field(
        None, description="Your own JSON object, stored beside the reconciler's marker."
    )
    html_overlay: bool | None = None
    quality_set_id: int | None = None
    projection: Literal["regular", "vr360", "vr180", "vr360tb"] | None = None
    transcoding_region: Text | None = Field(None, description="Transcoding region, e.g. ix1.")
    recording: bool | None = Field(None, description="Desired recording state.")

    _not_null = field_validator(*_NOT_NULL_STREAM)(_reject_null)

    @field_validator("srt_passphrase")
    @classmethod
    def _passphrase(cls, value: str | None) -> str | None:
        # Never echo the value: it is a secret.
        if value is not None and not SRT_PASSPHRASE_RE.match(value):
            raise ValueError(
                f"must be 10 to 80 printable ASCII characters without spaces "
                f"(got {len(value)} characters{_non_printable(value)}); "
                "use null to clear it"
            )
        return value

    @field_validator("client_entity_data")
    @classmethod
    def _entity_data(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        for reserved in (RESERVED_KEY, LOCK_KEY):
            if reserved in value:
                raise ValueError(
                    f"the key '{reserved}' is reserved for the reconciler's ownership marker; "
                    "rename it"
                )
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"must be plain JSON (strings, numbers, booleans, null, lists, mappings): {exc}; "
                "quote dates and other special values"
            ) from None
        depth = json_nesting(text)  # as stored: the user's keys sit beside the marker
        if depth > MAX_ENTITY_DEPTH:
            raise ValueError(
                f"nested {depth} levels deep (the mapping is the first); at most "
                f"{MAX_ENTITY_DEPTH} levels are read back as managed: flatten it"
            )
        return value


def _non_printable(value: str) -> str:
    if any(ch == " " for ch in value):
        return ", including spaces"
    if any(not "!" <= ch <= "~" for ch in value):
        return ", including characters outside printable ASCII"
    return ""


class BroadcastSpec(_Model):
    """Writable broadcast fields of the API (createBroadcast), with `streams` by manifest key."""

    model_config = ConfigDict(json_schema_extra=_schema_without_null(_NOT_NULL_BROADCAST))

    name: Text | None = Field(None, description="Platform title; defaults to the manifest key.")
    status: Literal["pending", "live", "paused", "finished"] | None = None
    streams: list[Key] = Field(
        min_length=1, description="Keys of Stream documents of this set (at least one)."
    )
    pending_message: str | None = None
    share_url: str | None = None
    custom_iframe_url: str | None = None
    show_dvr_after_finish: bool | None = None
    ad_id: int | None = None
    player_id: int | None = None
    poster: str | None = None

    _not_null = field_validator(*_NOT_NULL_BROADCAST)(_reject_null)


class ActiveUsers(_Model):
    file: Text | None = Field(None, description="One user id per line; relative to this file.")
    url: Text | None = Field(None, description="http(s) URL returning one user id per line.")


class CleanupSpec(_Model):
    idle_for: str = Field(
        description="Minimum idle time, e.g. 30d (units s, m, h, d, w).",
        pattern=DURATION_RE.pattern,
    )
    active_users: ActiveUsers | None = None
    name_pattern: Text | None = Field(None, description="Glob on the stream name, e.g. 'user-*'.")
    max_deletions: Annotated[int, Field(ge=0)] = 10
    delete_recordings: bool = False


class SettingsSpec(_Model):
    prune: bool = True
    allow_empty_prune: bool = False
    max_deletions: Annotated[int, Field(ge=0)] = Field(10, description="Per run, per kind.")
    max_deletion_percent: Annotated[float, Field(ge=0, le=100)] = 25.0


def _shared_default(model: type[_Model]) -> Any:
    """A default_factory giving one shared default instance (the models are frozen): building
    a default policy per document cost as much as validating a small one."""
    instance = model()
    return lambda: instance


# --- documents --------------------------------------------------------------------------------


class DocumentModel(_Model):
    """What every document has: its kind and its key (unique per kind)."""

    kind: str
    name: Key = Field(description="The manifest key, unique per kind in the set.")


class ResourceModel(DocumentModel):
    adopt: Annotated[int, Field(gt=0)] | None = Field(
        None, description="Adopt this existing object by id (never implicit by name)."
    )


class SettingsDoc(DocumentModel):
    kind: Literal["Settings"]
    name: Key = Field(description="The set name: the ownership scope written into markers.")
    spec: SettingsSpec = Field(default_factory=_shared_default(SettingsSpec))


class StreamDoc(ResourceModel):
    kind: Literal["Stream"]
    policy: StreamPolicy = Field(default_factory=_shared_default(StreamPolicy))
    spec: StreamSpec = Field(default_factory=_shared_default(StreamSpec))


class BroadcastDoc(ResourceModel):
    kind: Literal["Broadcast"]
    policy: BroadcastPolicy = Field(default_factory=_shared_default(BroadcastPolicy))
    spec: BroadcastSpec


class CleanupDoc(DocumentModel):
    kind: Literal["Cleanup"]
    name: Key = Field(description="The policy's key, unique among Cleanup documents.")
    spec: CleanupSpec


DOCUMENT_MODELS: dict[str, type[DocumentModel]] = {
    "Settings": SettingsDoc,
    "Stream": StreamDoc,
    "Broadcast": BroadcastDoc,
    "Cleanup": CleanupDoc,
}

Document = Annotated[
    SettingsDoc | StreamDoc | BroadcastDoc | CleanupDoc, Field(discriminator="kind")
]

# Fields people reach for that the format expresses differently: a hint instead of "unknown".
FIELD_HINTS: dict[str, str] = {
    "stream_ids": "reference streams by manifest key with `streams: [key, ...]`",
    "broadcast_ids": "a stream's broadcasts are declared on each Broadcast's `streams`",
    "id": "ids are never declared; use `adopt: <id>` at the top level to adopt an object",
    "token": "the stream token is read-only (the platform generates it)",
    "push_url": "push URLs are read-only (the platform generates them)",
    "apiVersion": "the format has no apiVersion; remove it",
    "metadata": "the key is `name:` at the top level; there is no metadata block",
}
