"""The one exception tree of the project; the CLI catches `ReconcilerError` once.

Messages never contain secrets: callers pass text through `redact` before raising when in doubt.
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
        super().__init__("\n".join(str(p) for p in sorted([*problems, *warnings], key=order)))


class ConfigError(ReconcilerError):
    """Missing credentials, bad flags, unreadable files outside the manifests."""


class LockHeldError(ReconcilerError):
    """Another run holds the lock of this manifest set."""


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
