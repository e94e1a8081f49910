"""Validated documents -> `DesiredState`, with the rules that span documents.

Each document is first reduced to its final value (`declare`), so its YAML nodes and model are
dropped file by file; then duplicate keys, dangling stream references, shared adopt ids, the set
name, the Cleanup users source and the size of each stream's `client_entity_data` are checked.
Knows nothing of YAML or files: the line of a field is asked of the loader, only for a problem.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel

from reconciler.errors import Problem
from reconciler.manifest.messages import KEY_RULE, did_you_mean
from reconciler.manifest.models import (
    DURATION_RE,
    KEY_RE,
    BroadcastDoc,
    CleanupDoc,
    DocumentModel,
    SettingsDoc,
    StreamDoc,
    StreamPolicy,
)
from reconciler.manifest.yamlload import Document, Loc, format_loc
from reconciler.model.desired import (
    CleanupPolicy,
    DeletionPolicy,
    DesiredBroadcast,
    DesiredState,
    DesiredStream,
    GoLive,
    ResourcePolicy,
    Settings,
    Source,
    UsersSource,
)
from reconciler.model.marker import MAX_ENTITY_DATA, RESERVED_KEY, Marker

WORST_CASE_ID = 10**12 - 1  # broadcast ids are not known at load time: assume long ones
MAX_IDLE_FOR = timedelta(days=36500)  # about 100 years: any longer selects nothing anyway
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_STREAM_NOT_API = frozenset({"recording", "client_entity_data"})
_BROADCAST_NOT_API = frozenset({"streams"})
_GO_LIVE = {g.value: g for g in GoLive}  # a dict lookup: calling the enum is slow


class Validated(NamedTuple):
    """A document of a known kind; `model` is None when it failed validation (already reported).

    Invalid documents still take part in duplicate and reference checks through their key, so
    a typo inside a stream does not also produce "no such stream" on every broadcast using it.
    """

    doc: Document
    kind: str
    key: str | None
    model: DocumentModel | None = None


class Declared(NamedTuple):
    """A validated document reduced to what the state and the cross-document rules need.

    `value` is the stream's or broadcast's final value, the Settings or Cleanup model, or None
    when the document failed validation. `raw` (the document as written) is kept only where a
    rule reads it: documents that failed validation, Settings and Cleanup.
    """

    kind: str
    key: str | None
    source: Source
    value: DesiredStream | DesiredBroadcast | SettingsDoc | CleanupDoc | None
    raw: Any = None
    refs: tuple[str, ...] | None = None  # a broadcast's `streams` as written, if a key repeats


# (path, [(first line of a document, field path), ...]) -> the line of each field
LineLookup = Callable[[str, Sequence[tuple[int, Loc]]], list[int]]


def declare(item: Validated) -> Declared:
    """The document as the state will hold it; its nodes and model are no longer needed."""
    doc, model = item.doc, item.model
    source = Source(doc.path, doc.line)
    if isinstance(model, StreamDoc):
        return Declared(item.kind, item.key, source, _stream(model, source))
    if isinstance(model, BroadcastDoc):
        broadcast = _broadcast(model, source)
        refs = tuple(model.spec.streams)
        repeated = len(refs) != len(broadcast.stream_keys)
        return Declared(item.kind, item.key, source, broadcast, refs=refs if repeated else None)
    if isinstance(model, SettingsDoc | CleanupDoc):
        return Declared(item.kind, item.key, source, model, raw=doc.value)
    return Declared(item.kind, item.key, source, None, raw=doc.value)


class _Builder:
    """Collects the problems of the cross-document rules; the lines of their fields are looked
    up at the end, once per file that has any."""

    def __init__(self, problems: list[Problem], lines: LineLookup, complete: bool) -> None:
        self.problems = problems
        self.lines = lines
        self.complete = complete
        self.pending: list[tuple[Declared, Loc, str]] = []

    def report(self, item: Declared, loc: Loc, message: str) -> None:
        self.pending.append((item, loc, message))

    def flush(self) -> None:
        by_path: dict[str, list[tuple[Declared, Loc, str]]] = {}
        for entry in self.pending:
            by_path.setdefault(entry[0].source.path, []).append(entry)
        self.pending = []
        for path, entries in by_path.items():
            lines = self.lines(path, [(item.source.line, loc) for item, loc, _ in entries])
            for (_, loc, message), line in zip(entries, lines, strict=True):
                self.problems.append(Problem(path, line, format_loc(loc), message))


def build_state(
    declared: list[Declared],
    *,
    set_name: str | None,
    first_path: str,
    problems: list[Problem],
    lines: LineLookup,
    complete: bool = True,
) -> DesiredState | None:
    """The desired state, or None when a problem was appended (all of them are appended).

    Not `complete` (a file or a document could not be read, which is a problem already): what
    may be declared in the unread part (the Settings, a referenced stream) is not reported
    missing."""
    before = len(problems)
    b = _Builder(problems, lines, complete)
    by_kind: dict[str, list[Declared]] = {}
    for item in declared:
        by_kind.setdefault(item.kind, []).append(item)
    settings = _settings(b, by_kind.get("Settings", []), set_name, first_path)
    all_streams = _unique(b, by_kind.get("Stream", []), "Stream")
    all_broadcasts = _unique(b, by_kind.get("Broadcast", []), "Broadcast")
    all_cleanups = _unique(b, by_kind.get("Cleanup", []), "Cleanup")
    streams, broadcasts = _valid(all_streams), _valid(all_broadcasts)
    # Each check also looks at documents with problems of their own (their raw values), so
    # every problem is reported in one pass, not one after another is fixed.
    _check_adopt(b, all_streams, "stream")
    _check_adopt(b, all_broadcasts, "broadcast")
    _check_references(b, all_broadcasts, all_streams)
    _check_recording(b, all_streams)
    marker_set = settings.set_name if settings is not None else _raw_set_name(by_kind, set_name)
    if marker_set is not None:
        _check_entity_data(b, streams, broadcasts, marker_set)
    cleanup_policies = tuple(_cleanup(b, item) for item in all_cleanups.values())
    b.flush()
    if settings is None or len(problems) > before:
        return None
    return DesiredState(
        settings=settings,
        streams={k: v.value for k, v in streams.items() if isinstance(v.value, DesiredStream)},
        broadcasts={
            k: v.value for k, v in broadcasts.items() if isinstance(v.value, DesiredBroadcast)
        },
        cleanups=tuple(c for c in cleanup_policies if c is not None),
    )


def _valid(items: dict[str, Declared]) -> dict[str, Declared]:
    return {key: item for key, item in items.items() if item.value is not None}


def _unique(b: _Builder, items: list[Declared], kind: str) -> dict[str, Declared]:
    """Key -> first declaration; later duplicates are problems naming the first one."""
    found: dict[str, Declared] = {}
    for item in items:
        key = item.key
        if key is None:
            continue
        if key in found:
            first = found[key].source
            b.report(
                item,
                ("name",),
                f"duplicate {kind} '{key}' (first declared at {first}); keys are unique per kind",
            )
        else:
            found[key] = item
    return found


def _settings(
    b: _Builder, items: list[Declared], set_name: str | None, first_path: str
) -> Settings | None:
    for extra in items[1:]:
        b.report(
            extra,
            ("kind",),
            f"only one Settings document per set (the first is at {items[0].source}); merge them",
        )
    if set_name is not None and not KEY_RE.match(set_name):
        b.problems.append(
            Problem("--set-name", 0, "", f"'{set_name}' is not a valid set name: {KEY_RULE}")
        )
        return None
    if not items:
        if set_name is None:
            if not b.complete:
                return None  # the Settings may be in what could not be read
            b.problems.append(
                Problem(
                    first_path,
                    0,
                    "",
                    "no set name: add a `kind: Settings` document with the set name, "
                    "or pass --set-name",
                )
            )
            return None
        return Settings(set_name=set_name)
    item = items[0]
    doc = item.value
    if not isinstance(doc, SettingsDoc):
        return None  # invalid: its problems are already reported
    if set_name is not None and set_name != doc.name:
        b.report(
            item,
            ("name",),
            f"the set name '{doc.name}' differs from --set-name '{set_name}'; "
            "use one of them (they name the ownership scope)",
        )
        return None
    spec = doc.spec
    return Settings(
        set_name=doc.name,
        prune=spec.prune,
        allow_empty_prune=spec.allow_empty_prune,
        max_deletions=spec.max_deletions,
        max_deletion_percent=float(spec.max_deletion_percent),
        source=item.source,
    )


def _check_adopt(b: _Builder, items: dict[str, Declared], kind: str) -> None:
    adopted: dict[int, Declared] = {}
    for item in items.values():
        if isinstance(item.value, DesiredStream | DesiredBroadcast):
            adopt = item.value.adopt_id
        else:  # a document with problems elsewhere: its adopt id if that one is valid
            raw = _raw(item.raw, "adopt")
            adopt = raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else None
        if adopt is None:
            continue
        if adopt in adopted:
            other = adopted[adopt]
            b.report(
                item,
                ("adopt",),
                f"{kind} {adopt} is already adopted by '{other.key}' "
                f"at {other.source}; one object can have only one manifest",
            )
        else:
            adopted[adopt] = item


def _check_references(
    b: _Builder, broadcasts: dict[str, Declared], streams: dict[str, Declared]
) -> None:
    for item in broadcasts.values():
        seen: set[str] = set()
        checked = isinstance(item.value, DesiredBroadcast)  # its model accepted every key
        for i, key in enumerate(_stream_refs(item)):
            if not checked and (not isinstance(key, str) or not KEY_RE.match(key)):
                continue  # a wrong type or an invalid key is already reported
            loc = ("spec", "streams", i)
            if key in seen:
                b.report(item, loc, f"stream '{key}' is listed twice; remove one")
            elif key not in streams and b.complete:
                hint = did_you_mean(key, streams)
                b.report(
                    item,
                    loc,
                    f"no Stream '{key}' in this set"
                    + (f"; {hint}" if hint else "; declare it with `kind: Stream`"),
                )
            seen.add(key)


def _stream_refs(item: Declared) -> list[Any]:
    """The `streams` list as written, also from a broadcast that failed validation (raw value)."""
    if isinstance(item.value, DesiredBroadcast):
        return list(item.refs or item.value.stream_keys)
    spec = item.raw.get("spec") if isinstance(item.raw, dict) else None
    refs = spec.get("streams") if isinstance(spec, dict) else None
    return refs if isinstance(refs, list) else []


def _check_recording(b: _Builder, streams: dict[str, Declared]) -> None:
    """`auto_record: true` with `recording: false` would stop, on every run, the recording the
    platform starts whenever the encoder connects (and be held while live): a contradiction."""
    for item in streams.values():
        stream = item.value
        if isinstance(stream, DesiredStream):
            auto_record, recording = stream.fields.get("auto_record"), stream.recording
        else:  # raw values (booleans are never substituted): a stream with other problems
            auto_record = _raw(item.raw, "spec", "auto_record")
            recording = _raw(item.raw, "spec", "recording")
        if auto_record is True and recording is False:
            b.report(
                item,
                ("spec", "recording"),
                "recording: false contradicts auto_record: true (the platform records whenever "
                "the encoder connects); drop one of them",
            )


def _check_entity_data(
    b: _Builder, streams: dict[str, Declared], broadcasts: dict[str, Declared], set_name: str
) -> None:
    """Fail at load time, not mid-apply, if marker + user data could exceed 4096 characters."""
    users: dict[str, list[DesiredBroadcast]] = {}
    bound: dict[str, int] = {}  # stream key -> the sum of its broadcasts' `_broadcast_bound`
    for item in broadcasts.values():
        broadcast = item.value
        assert isinstance(broadcast, DesiredBroadcast)
        cost = _broadcast_bound(broadcast.key)
        for key in broadcast.stream_keys:
            users.setdefault(key, []).append(broadcast)
            bound[key] = bound.get(key, 0) + cost
    orphan = DeletionPolicy.ORPHAN
    alone = _marker_bound(set_name, "")
    for key, item in streams.items():
        stream = item.value
        assert isinstance(stream, DesiredStream)
        if not stream.user_entity_data and alone + len(key) + bound.get(key, 0) <= MAX_ENTITY_DATA:
            continue  # fits whatever the ids: the exact size is needed only to report it
        used_by = users.get(key, [])
        marker = Marker(
            set_name=set_name,
            key=key,
            broadcasts={bc.key: WORST_CASE_ID for bc in used_by},
            protect=stream.policy.protect,
            orphan=stream.policy.deletion == orphan,
            protected_broadcasts=frozenset(bc.key for bc in used_by if bc.policy.protect),
            orphan_broadcasts=frozenset(bc.key for bc in used_by if bc.policy.deletion == orphan),
        )
        value: dict[str, Any] = dict(stream.user_entity_data or {})
        value[RESERVED_KEY] = marker.to_json_value()
        size = len(json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
        if size > MAX_ENTITY_DATA:
            declared = stream.user_entity_data is not None  # null or {} declared too
            b.report(
                item,
                ("spec", "client_entity_data") if declared else ("name",),
                f"client_entity_data could reach {size} characters with the ownership marker "
                f"(used by {len(used_by)} broadcasts); the API allows {MAX_ENTITY_DATA}: "
                "shorten your mapping or use fewer broadcasts per stream",
            )


def _marker_bound(set_name: str, key: str) -> int:
    """At least the length of the marker alone (no user data) without its broadcasts: its JSON
    is 128 characters besides the names; each broadcast adds `_broadcast_bound`. Keys and set
    names are plain (no escapes), so this never underestimates."""
    return 200 + len(set_name) + len(key)


def _broadcast_bound(key: str) -> int:
    """What a broadcast adds to the marker at most: 3 x (its name + 22) with the longest id."""
    return 3 * (len(key) + 24)


@functools.cache
def _policy_of(protect: bool, deletion: str, allow_live_changes: bool) -> ResourcePolicy:
    return ResourcePolicy(protect, DeletionPolicy(deletion), allow_live_changes)


def _policy(policy: StreamPolicy) -> ResourcePolicy:
    """One shared value per combination (they are frozen): 20,000 documents, a few policies."""
    return _policy_of(policy.protect, policy.deletion, policy.allow_live_changes)


def _declared(spec: BaseModel, key: str, skip: frozenset[str]) -> dict[str, Any]:
    """`name` first (spec.name or the key), then the declared fields in model order (the order
    of a validated model's attributes)."""
    fields: dict[str, Any] = {"name": getattr(spec, "name") or key}  # noqa: B009
    declared = spec.__pydantic_fields_set__
    for name, value in spec.__dict__.items():
        if name in declared and name not in skip and name != "name":
            fields[name] = value
    return fields


def _stream(doc: StreamDoc, source: Source) -> DesiredStream:
    spec = doc.spec
    user_data = None
    if "client_entity_data" in spec.__pydantic_fields_set__:
        # Declared null or {} = "none of my own keys"; left out = leave the user's keys alone.
        user_data = dict(spec.client_entity_data or {})
    return DesiredStream(
        key=doc.name,
        fields=_declared(spec, doc.name, _STREAM_NOT_API),
        user_entity_data=user_data,
        recording=spec.recording,
        adopt_id=doc.adopt,
        policy=_policy(doc.policy),
        source=source,
    )


def _broadcast(doc: BroadcastDoc, source: Source) -> DesiredBroadcast:
    return DesiredBroadcast(
        key=doc.name,
        fields=_declared(doc.spec, doc.name, _BROADCAST_NOT_API),
        stream_keys=tuple(dict.fromkeys(doc.spec.streams)),
        adopt_id=doc.adopt,
        policy=_policy(doc.policy),
        pause_on_interruption=doc.policy.pause_on_interruption,
        go_live=_GO_LIVE[doc.policy.go_live],
        source=source,
    )


def parse_duration(text: str) -> timedelta:
    """'1d12h' -> timedelta(days=1, hours=12); the model already checked the syntax. Raises
    OverflowError beyond `MAX_IDLE_FOR` (timedelta itself overflows at 999999999 days)."""
    seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    if seconds > MAX_IDLE_FOR.total_seconds():
        raise OverflowError(text)
    return timedelta(seconds=seconds)


def _cleanup(b: _Builder, item: Declared) -> CleanupPolicy | None:
    """The policy, or None; its checks also run on a document with problems elsewhere."""
    spec = _raw(item.raw, "spec")
    spec = spec if isinstance(spec, dict) else {}
    doc = item.value
    # The validated value (after ${VAR}); the raw one only for a document with problems.
    idle_for = _idle_for(
        b, item, doc.spec.idle_for if isinstance(doc, CleanupDoc) else spec.get("idle_for")
    )
    users = None
    if isinstance(doc, CleanupDoc):
        if doc.spec.active_users is not None:
            users = _users(b, item, doc.spec.active_users.file, doc.spec.active_users.url)
    else:
        # A document with problems: a users source that is right in itself is still checked
        # (a block with its own problem, an unknown field say, already says what to fix).
        file, url = _text(spec, "active_users", "file"), _text(spec, "active_users", "url")
        if (file is None) != (url is None):
            users = _users(b, item, file, url)
    if not isinstance(doc, CleanupDoc) or idle_for is None:
        return None
    if doc.spec.active_users is not None and users is None:
        return None
    return CleanupPolicy(
        key=doc.name,
        idle_for=idle_for,
        active_users=users,
        name_pattern=doc.spec.name_pattern,
        max_deletions=doc.spec.max_deletions,
        delete_recordings=doc.spec.delete_recordings,
        source=item.source,
    )


def _idle_for(b: _Builder, item: Declared, raw: Any) -> timedelta | None:
    if not isinstance(raw, str) or not DURATION_RE.match(raw):
        return None  # missing or malformed: the model reported it
    loc = ("spec", "idle_for")
    try:
        idle_for = parse_duration(raw)
    except OverflowError:
        b.report(item, loc, f"must be at most {MAX_IDLE_FOR.days}d (about 100 years)")
        return None
    if idle_for <= timedelta(0):
        b.report(item, loc, "must be longer than zero, e.g. 30d")
        return None
    return idle_for


def _raw(value: Any, *path: str) -> Any:
    """The value at `path` in a document as written (None where it is not a mapping)."""
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any, *path: str) -> str | None:
    found = _raw(value, *path)
    return found if isinstance(found, str) and found else None


def _raw_set_name(by_kind: dict[str, list[Declared]], set_name: str | None) -> str | None:
    """The set name for the size check while the Settings have problems: as written, if valid."""
    settings = by_kind.get("Settings", [])
    raw = _raw(settings[0].raw, "name") if settings else set_name
    return raw if isinstance(raw, str) and KEY_RE.match(raw) else None


def _users(b: _Builder, item: Declared, file: str | None, url: str | None) -> UsersSource | None:
    loc: tuple[str | int, ...] = ("spec", "active_users")
    if (file is None) == (url is None):
        b.report(
            item,
            loc,
            "set exactly one of `file` (one user id per line) or `url`, "
            "e.g. `active_users: {file: users.txt}`",
        )
        return None
    if url is not None:
        if not url.startswith(("https://", "http://")):
            b.report(item, (*loc, "url"), "must be an http:// or https:// URL")
            return None
        return UsersSource(url=url)
    assert file is not None
    resolved = (Path(item.source.path).parent / file).resolve()
    if not resolved.is_file():
        b.report(
            item,
            (*loc, "file"),
            f"file not found: {resolved} (a relative path is read from the manifest's directory)",
        )
        return None
    return UsersSource(file=str(resolved))
