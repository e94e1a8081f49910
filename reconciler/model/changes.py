"""The plan and the report as values: what would change, and what happened when applied.

Pure data (frozen dataclasses); `plan` builds them, `guards` marks some held, `apply` executes
them, `render` prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any


class Resource(StrEnum):
    STREAM = "stream"
    BROADCAST = "broadcast"
    VIDEO = "video"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"  # PATCH of declared fields (also used to write/repair our marker)
    ADOPT = "adopt"  # PATCH that writes our marker onto an existing object (plus field diffs)
    DELETE = "delete"  # prune of an owned object that left the manifests
    ORPHAN = "orphan"  # release: PATCH that removes our marker, object stays
    ACTIVATE = "activate"  # stream active -> true
    DEACTIVATE = "deactivate"  # stream active -> false
    SET_STATUS = "set_status"  # broadcast status change
    START_RECORDING = "start_recording"
    STOP_RECORDING = "stop_recording"
    CLEANUP = "cleanup"  # delete of a stale stream selected by a Cleanup policy
    DELETE_RECORDING = "delete_recording"  # delete of a video of a cleaned-up stream


class Stage(IntEnum):
    """The platform's lifecycle order (invariant 6); apply runs stages in this order.

    What leaves the air comes first: a stream reused between shows sees the leaving show finish,
    then its own changes (ingest), then the next show go live (`depends_on` carries the holds).
    Stopping a recording and finishing a broadcast change no stream's `active`, so running them
    first costs nothing against the active-stream quota.
    """

    STOP_RECORDING = 5
    BROADCASTS_FINISHED = 8
    CREATE_STREAMS = 10
    UPDATE_STREAMS = 20
    CREATE_BROADCASTS = 30
    UPDATE_BROADCASTS = 40
    ACTIVATE_STREAMS = 50
    BROADCASTS_UP = 60  # pending/live/paused
    START_RECORDING = 70
    DEACTIVATE_STREAMS = 100
    DELETE_BROADCASTS = 110
    # A stream released by deletion policy orphan: its marker is the only ownership record of
    # the broadcasts it records, so it goes once they are deleted or released.
    RELEASE_STREAMS = 115
    DELETE_STREAMS = 120
    CLEANUP = 130


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a change it depends on failed or was held
    HELD = "held"  # held back by a safety rule


@dataclass(frozen=True)
class FieldDiff:
    """One JSON-patch operation over a declared field, with the value it replaces."""

    op: str  # "add" | "replace" | "remove"
    path: str  # JSON pointer, e.g. "/dvr_duration"
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class Change:
    resource: Resource
    key: str  # manifest key; "#<id>" for objects not in the manifests (cleanup)
    action: Action
    stage: Stage
    target_id: int | None = None  # id of the live object; None for creates
    title: str = ""  # platform name, for output
    diffs: tuple[FieldDiff, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)  # API payload, unwrapped
    stream_refs: tuple[str, ...] = ()  # broadcast stream keys, resolved to ids at apply time
    # A broadcast moved or adopted: the ids of its declared streams that exist at plan time (a
    # stream this run creates has none yet, and is not on air). The live rule reads what a move
    # keeps here, at plan time and at apply's re-check alike (never through markers).
    existing_stream_ids: tuple[int, ...] = ()
    reason: str = ""  # why (drift, prune, cleanup selection, interruption, ...)
    held: str | None = None  # set by a safety rule: why this change is held back
    # set by the guards: the user allows this change to disturb a live stream (policy or flag);
    # otherwise apply re-checks a disruptive change at the moment of its write (invariant 5)
    live_allowed: bool = False
    depends_on: tuple[str, ...] = ()  # ids of changes that must be done first
    # A Cleanup deletion: the key of the policy that selected the stream (its rule is judged
    # again on the stream as re-read at the moment of the write).
    selected_by: str = ""

    @property
    def id(self) -> str:
        return f"{self.resource}/{self.key}/{self.action}"

    def hold(self, reason: str) -> Change:
        return replace(self, held=reason)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()  # reported, not failures (e.g. a stream dropped while live)
    notes: tuple[str, ...] = ()  # guard decisions worth showing (caps reached, prune refused)

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.held is None)

    @property
    def held(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.held is not None)

    @property
    def is_empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    detail: str = ""  # failure reason, skip cause or hold reason
    object_id: int | None = None  # id of the created/affected object


@dataclass(frozen=True)
class Report:
    results: tuple[ChangeResult, ...]
    stopped: str = ""  # why the run stopped starting changes (the lock was lost), or ""
    # The lock was gone when the run released it (`reconciler unlock` while it ran): another
    # run may have written beside it, unseen by the heartbeat (it looks every third of the ttl).
    lock_removed: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def exit_code(self) -> int:
        """0 converged, 1 some change failed or the run stopped early, 3 some change held back
        (and none failed).

        A skipped change has a failed or held change upstream, or the run stopped early.
        """
        if self.count(Outcome.FAILED) or self.stopped or self.lock_removed:
            return 1
        if self.count(Outcome.HELD) or self.count(Outcome.SKIPPED):
            return 3
        return 0
