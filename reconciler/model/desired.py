"""What the manifests declare, as plain frozen values (produced by `reconciler.manifest`).

Knows nothing of YAML, the API or the live account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any


class DeletionPolicy(StrEnum):
    DELETE = "delete"  # removing the resource from the manifests deletes the object
    ORPHAN = "orphan"  # removing it releases the object: our marker is removed, the object stays


class GoLive(StrEnum):
    IMMEDIATELY = "immediately"  # a broadcast declared live is set live at once
    WHEN_ON_AIR = "when_on_air"  # it stays pending until one of its streams is on air


@dataclass(frozen=True, slots=True)
class Source:
    """Where a document was declared, for messages (`path:line`)."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class ResourcePolicy:
    protect: bool = False  # never deleted by prune, even after removal from the manifests
    deletion: DeletionPolicy = DeletionPolicy.DELETE
    allow_live_changes: bool = False  # let changes through that would disturb a live stream


@dataclass(frozen=True, slots=True)
class DesiredStream:
    key: str
    # Declared writable API fields only, exactly as sent to the API. `name` is always present
    # (spec.name or the key). `client_entity_data` is never here: see `user_entity_data`.
    fields: Mapping[str, Any]
    user_entity_data: Mapping[str, Any] | None = None  # the user's own client_entity_data mapping
    recording: bool | None = None  # desired recording state; None = not declared
    adopt_id: int | None = None  # explicit adoption of an existing stream by id
    policy: ResourcePolicy = field(default_factory=ResourcePolicy)
    source: Source | None = None


@dataclass(frozen=True, slots=True)
class DesiredBroadcast:
    key: str
    # Declared writable API fields except `stream_ids`; `name` always present; `status` if declared.
    fields: Mapping[str, Any]
    stream_keys: tuple[str, ...] = ()  # `streams:` references by manifest key, in order
    adopt_id: int | None = None
    policy: ResourcePolicy = field(default_factory=ResourcePolicy)
    pause_on_interruption: bool = False  # live -> paused while its streams are down, and back
    go_live: GoLive = GoLive.IMMEDIATELY  # when a broadcast declared live is set live
    source: Source | None = None


@dataclass(frozen=True)
class UsersSource:
    """Where the active user ids come from: exactly one of file or url."""

    file: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class CleanupPolicy:
    key: str
    idle_for: timedelta  # required: a policy without an age bound is refused at load time
    active_users: UsersSource | None = None
    name_pattern: str | None = None  # glob matched against the stream name (fnmatch)
    max_deletions: int = 10
    delete_recordings: bool = False
    source: Source | None = None


@dataclass(frozen=True)
class Settings:
    set_name: str  # ownership scope written into every marker
    prune: bool = True
    allow_empty_prune: bool = False  # allow pruning a kind whose manifests became empty
    max_deletions: int = 10  # per run, per kind
    max_deletion_percent: float = 25.0  # of the owned objects of a kind, per run
    source: Source | None = None


@dataclass(frozen=True)
class DesiredState:
    settings: Settings
    streams: Mapping[str, DesiredStream]
    broadcasts: Mapping[str, DesiredBroadcast]
    cleanups: tuple[CleanupPolicy, ...] = ()
