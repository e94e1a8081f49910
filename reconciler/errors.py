"""Every exception the package raises to its callers, in one tree (the httpx pattern): the CLI
catches `ReconcilerError` once. The bottom layer: imports nothing of the package. Messages never
contain secrets: callers pass text through `redact` before raising when in doubt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ReconcilerError(Exception):
    """Base class of every error the tool reports to a user (no traceback)."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in one manifest file, printed compiler style: `path:line: field: message`."""

    path: str
    line: int
    field: str
    message: str
    column: int = 0  # 1-based, when the problem is one character (a byte that is not UTF-8)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        where += f":{self.column}" if self.line and self.column else ""
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ManifestError(ReconcilerError):
    """The manifests are invalid; `problems` lists every problem in every file. `warnings` (the
    offline check's unset variables) are printed among them, in file order, but not counted."""

    def __init__(self, problems: list[Problem], *, warnings: Sequence[Problem] = ()) -> None:
        order = lambda p: (p.path, p.line, p.field, p.message)  # noqa: E731
        self.problems = sorted(problems, key=order)
        self.warnings = sorted(warnings, key=order)
        self.listed = sorted([*problems, *warnings], key=order)  # what a user reads, in file order
        super().__init__("\n".join(str(p) for p in self.listed))


class StoppedMidApply(KeyboardInterrupt):
    """A signal (Ctrl-C, SIGTERM, SIGHUP) stopped apply once the changes in flight had finished:
    `report` (a `model.changes.Report`) says what each change did, those never started skipped.
    `signum` is the signal's."""

    def __init__(self, interrupt: KeyboardInterrupt, report: object) -> None:
        super().__init__(*interrupt.args)
        self.report = report
        self.signum: int = getattr(interrupt, "signum", 2)  # SIGINT unless the handler said


class ConfigError(ReconcilerError):
    """Missing credentials, bad flags, unreadable files outside the manifests."""


class LockHeldError(ReconcilerError):
    """The lock of this manifest set is not ours: another run holds it, or ours was lost."""


class SetLocked(LockHeldError):
    """Another run holds the lock: `owner` says who, `until` when it expires (as printed)."""

    def __init__(
        self,
        set_name: str,
        owner: str,
        until: str,
        *,
        advice: str = "another apply is running. Retry later or raise --lock-wait",
    ) -> None:
        self.set_name = set_name
        self.owner = owner
        self.until = until
        super().__init__(
            f"manifest set {set_name!r} is locked by {owner!r} until {until}; {advice}"
        )


class LockLost(LockHeldError):
    """Our lock expired or was removed while we held it (a refresh came too late)."""


class LockNotConfirmed(ReconcilerError):
    """The lock stream this run created never showed up live in the stream listing."""


class PlanError(ReconcilerError):
    """Desired and live state conflict in a way only the user can fix (e.g. a bad adopt_id);
    `problems` lists every such conflict, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class MarkerTooLarge(ReconcilerError):
    """The marker plus the user's own data would exceed the API's 4096 characters."""


class ApiError(ReconcilerError):
    """A call to the Streaming API failed; names the call, never the key."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", status: int | None = None
    ):
        self.method = method
        self.path = path
        self.status = status
        call = f"{method} {path}".strip()
        code = f" -> {status}" if status is not None else ""
        super().__init__(f"{call}{code}: {message}" if call else message)


class AuthError(ApiError):
    """401/403: the key is missing, wrong or lacks rights."""


class NotFoundError(ApiError):
    """404 for an id we asked about."""


class ValidationFailed(ApiError):
    """422 with the API's `{"errors": {field: [message]}}`."""


class RateLimited(ApiError):
    """429 that outlived the retries."""


class ServerError(ApiError):
    """5xx that outlived the retries."""


class Unreachable(ApiError):
    """Timeouts or connection errors that outlived the retries."""


class BadResponse(ApiError):
    """The API answered something the spec does not promise (non-JSON, missing fields)."""


class AmbiguousCreate(ApiError):
    """A create may or may not have been committed (timeout, 5xx, dropped response).

    Never retried blindly: the caller looks for the object before creating again.
    """
