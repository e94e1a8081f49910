"""Reads the active user ids of a `Cleanup` policy from a file or a URL (one id per line, or a JSON
list). Any doubt about the list is a `ConfigError`: a failed read must delete nothing.

Knows nothing of the Streaming API or the planner; the URL is not the Gcore API (no key is sent).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from reconciler.api.plain import HttpAnswer, get_text
from reconciler.errors import ApiError, ConfigError
from reconciler.model.desired import DesiredState, UsersSource
from reconciler.redact import redact_text

URL_TIMEOUT = 10.0  # seconds; a users list is small
MAX_BYTES = 16 * 1024 * 1024  # a bigger answer is not a list of user ids


HttpGet = Callable[[str, float], HttpAnswer]  # (url, timeout) -> answer; raises OSError-likes


def read_active_users(
    source: UsersSource, *, http_get: HttpGet | None = None, base_dir: str | None = None
) -> frozenset[int]:
    """The active user ids from `source.file` (relative paths from `base_dir`) or `source.url`.

    Format: one integer id per line (`#` comments and blank lines allowed) or a JSON list of
    integers. Raises `ConfigError` naming the file or URL (and the line) when it cannot be read,
    is malformed, or holds no id at all (an empty list would select every stream).
    """
    if source.file:
        path = source.file
        if base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        where = f"active users file {path}"
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read(MAX_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            reason = _os_reason(exc)
            raise ConfigError(f"{where}: cannot be read ({reason}); nothing is deleted") from None
    elif source.url:
        where = redact_text(f"active users URL {source.url}")
        text = _fetch(source.url, http_get or _get, where)
    else:
        raise ConfigError("active_users: give a file or a url")
    if len(text) > MAX_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_BYTES} bytes; is it really a list of ids?")
    ids = parse_user_ids(text, where)
    if not ids:
        raise ConfigError(
            f"{where}: holds no user id; an empty list of active users would select every "
            "stream, so the cleanup is refused"
        )
    return ids


def parse_user_ids(text: str, where: str) -> frozenset[int]:
    """Parse one id per line or a JSON list; `where` prefixes every error message."""
    if text.lstrip().startswith(("[", "{")):
        return _parse_json(text, where)
    ids = set()
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        try:
            ids.add(_as_id(value))
        except ValueError:
            raise ConfigError(
                f"{where}:{number}: '{value[:40]}' is not a user id (one integer per line; "
                "# starts a comment)"
            ) from None
    return frozenset(ids)


def _parse_json(text: str, where: str) -> frozenset[int]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 0)
        raise ConfigError(f"{where}:{line}: not valid JSON ({exc})") from None
    if not isinstance(value, list):
        raise ConfigError(f"{where}: a JSON document must be a list of user ids")
    ids = set()
    for index, item in enumerate(value):
        try:
            ids.add(_as_id(item))
        except ValueError:
            raise ConfigError(
                f"{where}: item {index} of the JSON list ({json.dumps(item)[:40]}) is not a user id"
            ) from None
    return frozenset(ids)


def _as_id(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a boolean is not an id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"not an integer: {value!r}")


def read_policy_users(
    desired: DesiredState, *, http_get: HttpGet | None = None
) -> dict[str, frozenset[int]]:
    """Active users of every Cleanup policy that declares a source, by policy key.

    A relative file is read from the directory of the manifest that declares the policy. Raises
    `ConfigError` on the first source that cannot be read: the whole cleanup stops.
    """
    users = {}
    for policy in desired.cleanups:
        if policy.active_users is None:
            continue
        base_dir = os.path.dirname(policy.source.path) if policy.source else None
        try:
            users[policy.key] = read_active_users(
                policy.active_users, http_get=http_get, base_dir=base_dir
            )
        except ConfigError as exc:
            where = f"{policy.source}: " if policy.source else ""
            raise ConfigError(f"{where}Cleanup '{policy.key}': {exc}") from None
    return users


def _fetch(url: str, http_get: HttpGet, where: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: only http:// and https:// URLs are supported")
    try:
        answer = http_get(url, URL_TIMEOUT)
    except ApiError as exc:
        raise ConfigError(f"{where}: cannot be read ({redact_text(str(exc))})") from None
    except Exception as exc:  # any transport failure: refuse, never guess
        reason = redact_text(f"{type(exc).__name__}: {exc}")
        raise ConfigError(f"{where}: cannot be read ({reason})") from None
    if answer.status != 200:
        raise ConfigError(f"{where}: answered HTTP {answer.status}; nothing is deleted")
    return answer.text


def _get(url: str, timeout: float) -> HttpAnswer:
    # The users URL belongs to the user's own service, not to the Gcore API: the API client (with
    # its key) is deliberately not used here.
    return get_text(url, timeout, max_bytes=MAX_BYTES)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
