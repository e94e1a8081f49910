"""Writes manifests for what a set owns in the account (optionally also for unowned objects, as
explicit `adopt:` documents), so that applying the export to the same account is a no-op.

Pure: live state -> YAML text (`export_account` adds the read). Knows the manifest format through
its models; knows nothing of the planner, apply or the CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from reconciler.api.protocol import StreamingAPI
from reconciler.manifest.envsubst import literal
from reconciler.manifest.models import KEY_RE, BroadcastDoc, BroadcastSpec, StreamDoc, StreamSpec
from reconciler.manifest.yamlload import format_loc
from reconciler.model.live import LiveBroadcast, LiveState, LiveStream, read_live
from reconciler.model.marker import RESERVED_KEY
from reconciler.model.ownership import Ownership, ownership_of
from reconciler.redact import redact_text
from reconciler.render.inert import yaml_comment, yaml_text

# Writable API fields the manifest format declares; everything else the server sets or derives
# (id, token, live, push/playback URLs, created_at, ...). `recording` is a desired state, not a
# field: exporting the momentary recording state would start or stop recordings later.
_NOT_EXPORTED = frozenset({"name", "recording", "client_entity_data", "srt_passphrase", "streams"})
STREAM_FIELDS = tuple(f for f in StreamSpec.model_fields if f not in _NOT_EXPORTED)
BROADCAST_FIELDS = tuple(f for f in BroadcastSpec.model_fields if f not in _NOT_EXPORTED)


class _EnvReference(str):
    """A `${VAR}` the export writes on purpose (in place of a secret): written as is, where every
    other string is written so that it loads back as itself (`literal`)."""

    __slots__ = ()


@dataclass
class _Doc:
    value: dict[str, Any]
    comments: list[str] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)  # the ${VAR} written in place of secrets
    sort: tuple[int, str] = (0, "")


def export_account(api: StreamingAPI, *, set_name: str, include_unowned: bool = False) -> str:
    """Read the account by list sweeps, then `export_manifests`. Raises `ApiError` on a failed
    read (never exports a partial account)."""
    return export_manifests(read_live(api), set_name=set_name, include_unowned=include_unowned)


def export_manifests(live: LiveState, *, set_name: str, include_unowned: bool = False) -> str:
    """Multi-document YAML: a Settings document, then Stream and Broadcast documents.

    Owned objects keep the keys of their markers and their `protect` / `orphan` policies; the
    user's own `client_entity_data` is written as a mapping. With `include_unowned`, unmanaged
    streams and broadcasts are written with `adopt: <id>` and a generated key (slug of the name
    plus the id), so the first apply adopts them explicitly. Never exported: the lock stream,
    streams managed by another set, `srt_passphrase` (a secret: declare it as ${VAR}), string
    values that hold secrets (replaced by a ${VAR} reference to set before applying). Every other
    string loads back as the account's text (a `${` is written `$${`).
    """
    own = ownership_of(live, set_name)
    keys: dict[int, str] = {}  # stream id -> key used in the export
    docs: list[_Doc] = []
    skipped: list[str] = []
    for key, owned in own.owned.items():
        keys[owned.id] = key
        policy = _policy(owned.marker.protect, owned.marker.orphan)
        docs.append(_stream_doc(owned.stream, key, owned.user_data, None, policy))
    if include_unowned:
        _unowned_streams(live, own, keys, docs, skipped)
    # A broadcast recorded under several keys goes by the lowest (what a plan without it does).
    owned_broadcasts = {bid: min(recorded) for bid, recorded in own.recorded.items()}
    used_broadcast_keys = set(owned_broadcasts.values())
    for broadcast in live.broadcasts:
        bid = broadcast.id
        owned_key = owned_broadcasts.get(bid)
        adopt: int | None = None
        if owned_key is not None:
            key = owned_key
        elif not include_unowned:
            continue
        else:
            key = unique_key(broadcast.name, bid, "broadcast", used_broadcast_keys)
            adopt = bid
        refs = [keys.get(i) for i in broadcast.stream_ids]
        if not broadcast.get("stream_ids"):
            skipped.append(
                f"broadcast {bid} ({broadcast.name!r}) is not exported: it uses no stream "
                "(a manifest's broadcast needs at least one stream)"
            )
            continue
        if None in refs or len(refs) != len(broadcast.get("stream_ids") or ()):
            skipped.append(
                f"broadcast {bid} ({broadcast.name!r}) is not exported: it uses streams "
                "that are not in this export (manifests reference streams of their own set only)"
            )
            continue
        policy = _policy(key in own.protected, key in own.orphaned) if adopt is None else {}
        docs.append(_broadcast_doc(broadcast, key, [r for r in refs if r], adopt, policy))
    return _render(set_name, docs, skipped, include_unowned)


def _unowned_streams(
    live: LiveState, own: Ownership, keys: dict[int, str], docs: list[_Doc], skipped: list[str]
) -> None:
    """`adopt:` documents for the streams no set manages (never a lock stream)."""
    used = set(keys.values())
    for stream in live.streams:
        if stream.marker is not None or stream.is_lock or stream.id in own.locks:
            continue
        what = f"stream {stream.id} ({stream.name!r}) is not exported:"
        if stream.odd:
            skipped.append(f"{what} {stream.odd}")
            continue
        entity = stream.entity
        if _uses_reserved_key(entity.raw) and entity.released_by is None:
            skipped.append(
                f"{what} its own client_entity_data uses the key {RESERVED_KEY!r} that holds our "
                "marker; adopt it by hand with a client_entity_data mapping that replaces it"
            )
            continue
        if entity.not_an_object:
            skipped.append(
                f"{what} its client_entity_data is not a JSON object, so the ownership marker "
                "cannot be stored beside it"
            )
            continue
        key = unique_key(stream.name, stream.id, "stream", used)
        keys[stream.id] = key
        docs.append(_stream_doc(stream, key, entity.user_data, stream.id, {}))


def unique_key(name: str, object_id: int, kind: str, used: set[str]) -> str:
    """A valid manifest key for an unowned object: slug of its name plus its id, unique."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-._") or kind
    key = base = f"{slug}-{object_id}"
    n = 2
    while key in used or not KEY_RE.match(key):
        key = f"{base}-{n}" if KEY_RE.match(f"{base}-{n}") else f"{kind}-{object_id}-{n}"
        n += 1
    used.add(key)
    return key


# --- documents ----------------------------------------------------------------------------------


def _stream_doc(
    stream: LiveStream,
    key: str,
    user_data: Mapping[str, Any] | None,
    adopt: int | None,
    policy: dict[str, Any],
) -> _Doc:
    doc = _Doc(value={"kind": "Stream", "name": key}, sort=(1, key))
    if adopt is not None:
        doc.value["adopt"] = adopt
    if policy:
        doc.value["policy"] = policy
    spec = _fields(stream.raw, doc, STREAM_FIELDS)
    if user_data:
        spec["client_entity_data"] = _safe(dict(user_data), doc, ("client_entity_data",))
    if stream.get("srt_passphrase"):
        doc.comments.append(
            "srt_passphrase is set on the account and not exported (a secret); declare it as "
            "srt_passphrase: ${VAR} to manage it"
        )
    doc.value["spec"] = spec
    _validate(doc, StreamDoc)
    return doc


def _broadcast_doc(
    broadcast: LiveBroadcast,
    key: str,
    refs: list[str],
    adopt: int | None,
    policy: dict[str, Any],
) -> _Doc:
    doc = _Doc(value={"kind": "Broadcast", "name": key}, sort=(2, key))
    if adopt is not None:
        doc.value["adopt"] = adopt
    if policy:
        doc.value["policy"] = policy
    spec = _fields(broadcast.raw, doc, BROADCAST_FIELDS)
    if adopt is None and spec.get("status") == "pending":
        # `go_live: when_on_air` is not recorded in the account: a broadcast declared live that
        # waits for its streams looks like one declared pending.
        doc.comments.append(
            "status: pending as in the account. If this broadcast was declared status: live with "
            "policy.go_live: when_on_air (not recorded in the account), it is waiting for its "
            "streams to go on air: write both back, or it stays pending"
        )
    spec["streams"] = refs
    doc.value["spec"] = spec
    _validate(doc, BroadcastDoc)
    return doc


def _fields(obj: Mapping[str, Any], doc: _Doc, names: tuple[str, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    name = obj.get("name")
    if isinstance(name, str) and name and name != doc.value["name"]:
        spec["name"] = _safe(name, doc, ("name",))
    for field_name in names:
        value = obj.get(field_name)
        if value is None:
            continue  # null: the server's default; leaving it out keeps it (no diff either way)
        spec[field_name] = _safe(value, doc, (field_name,))
    return spec


def _safe(value: Any, doc: _Doc, loc: tuple[str | int, ...]) -> Any:
    """`value` with every string that carries a secret (credentials in a URL, a token parameter),
    nested ones too, replaced by a ${VAR} reference: the export is printed and committed, the
    secret must not be."""
    if isinstance(value, dict):
        return {k: _safe(v, doc, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v, doc, (*loc, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or redact_text(value) == value:
        return value
    words = "_".join(str(part) for part in (doc.value["name"], *loc))
    var = base = re.sub(r"[^A-Z0-9]+", "_", words.upper()).strip("_")
    if var[:1].isdigit():
        var = base = f"_{var}"  # a variable name does not start with a digit (key `1cam`)
    n = 2
    while var in doc.variables:
        var, n = f"{base}_{n}", n + 1
    doc.variables.add(var)
    doc.comments.append(
        f"{format_loc(loc)} holds a secret: set {var} in the environment before applying"
    )
    return _EnvReference(f"${{{var}}}")


def _as_written(value: Any) -> Any:
    """`value` as the manifest text must hold it: every string but our own references made
    literal (`${X}` in the account is text, not a variable). Mapping keys are never
    substituted by the loader, so they stay as they are."""
    if isinstance(value, _EnvReference):
        return str(value)
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {k: _as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    return value


def _validate(doc: _Doc, model: type[StreamDoc] | type[BroadcastDoc]) -> None:
    """Drop any field the manifest format would reject (a value the API allows but the format
    does not), saying so, rather than writing a file that does not load."""
    while True:
        try:
            model.model_validate(doc.value)
            return
        except ValidationError as exc:
            loc = exc.errors()[0]["loc"]
            if len(loc) < 2 or loc[0] != "spec" or loc[1] not in doc.value["spec"]:
                raise  # a bug in this module, not in the account
            bad = str(loc[1])
            del doc.value["spec"][bad]
            doc.comments.append(f"{bad} is left out: its value in the account is not valid here")


def _policy(protect: bool, orphan: bool) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if protect:
        policy["protect"] = True
    if orphan:
        policy["deletion"] = "orphan"
    return policy


def _uses_reserved_key(raw: str | None) -> bool:
    """True when the JSON object holds the reserved key with something that is not our marker
    (adopting would overwrite it, which the planner refuses)."""
    try:
        value = json.loads(raw or "null")
    except ValueError:
        return False
    return isinstance(value, dict) and RESERVED_KEY in value


def _counts(docs: list[_Doc], *, adopted: bool) -> str:
    """'N stream(s) and M broadcast(s)' among the documents with (or without) `adopt:`."""
    kinds = [d.value["kind"] for d in docs if ("adopt" in d.value) is adopted]
    return f"{kinds.count('Stream')} stream(s) and {kinds.count('Broadcast')} broadcast(s)"


def _render(set_name: str, docs: list[_Doc], skipped: list[str], include_unowned: bool) -> str:
    header = [
        f"Exported by reconciler: {_counts(docs, adopted=False)} of set '{set_name}'"
        + (
            f", and {_counts(docs, adopted=True)} outside the set (as `adopt:` documents)."
            if include_unowned
            else "."
        ),
        "Server-set fields (id, token, push and playback URLs, live state, timestamps) are left "
        "out;",
        "`adopt:` documents take existing objects over explicitly on the next apply.",
    ]
    header += [f"skipped: {line}" for line in skipped]
    # Comments quote names from the account, and values are the account's: both made inert.
    settings = yaml_text(_as_written({"kind": "Settings", "name": set_name}))
    parts = ["".join(yaml_comment(line) for line in header) + settings]
    for doc in sorted(docs, key=lambda d: d.sort):
        text = yaml_text(_as_written(doc.value))
        parts.append("".join(yaml_comment(c) for c in doc.comments) + text)
    return "---\n".join(parts)
