"""What apply knows about our streams while it runs: key -> id, current names and the current
`client_entity_data`, and the marker edits (broadcasts recorded, forgotten, intents to create)
held until the stream's next write, so that a stream costs one PATCH per stage.

Knows the API only through `StreamingAPI`; knows nothing of stages or scheduling.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import MarkerTooLarge, ReconcilerError
from reconciler.model.changes import Action, Plan, Resource
from reconciler.model.live import ENTITY, LiveState, marker_in, parse_entity
from reconciler.model.marker import EntityData, Marker, encode_entity_data
from reconciler.model.ownership import ownership_of

Json = dict[str, Any]
_NO_ENTITY = EntityData(None, None, None)


def infer_set_name(plan: Plan, live: LiveState) -> str | None:
    """The set of the plan: from the markers in its stream bodies, else from the live markers of
    the objects it targets (a stream by id, a broadcast through the stream that records it)."""
    for change in plan.changes:
        if change.resource is Resource.STREAM and ENTITY in change.body:
            marker = marker_in(change.body.get(ENTITY))
            if marker is not None:
                return marker.set_name
    streams = {c.target_id for c in plan.changes if c.resource is Resource.STREAM}
    broadcasts = {c.target_id for c in plan.changes if c.resource is Resource.BROADCAST}
    for stream in live.streams:
        marker = stream.marker
        if marker is None:
            continue
        if stream.id in streams or broadcasts & set(marker.broadcasts.values()):
            return marker.set_name
    return None


class StreamBook:
    """Thread-safe record of our streams while apply runs, seeded from the ownership index and
    kept up to date as apply writes: key <-> id of each managed stream (a duplicate of a key is
    never ours here, as in the plan), names, each stream's decoded `client_entity_data`, and
    broadcast id -> our streams whose markers record it (so forgetting a broadcast reads only
    those), and which streams carry edits not yet written.

    Locking: a stream's own entries (decoded data, name, last read, pending edits) change only
    under that stream's lock, each by one dict or set operation (atomic), so the changes of
    different streams never wait for each other; `_lock` guards what spans streams (key <-> id,
    the broadcast index, the stream locks). Eight workers taking one book-wide lock a dozen
    times per change queued behind each other's wait for the GIL (a lock convoy: up to 18
    context switches per change, 10,000 deletes at up to 2.7x the CPU)."""

    def __init__(self, api: StreamingAPI, live: LiveState, set_name: str | None) -> None:
        self.api = api
        self.set_name = set_name
        self._lock = threading.Lock()
        self._stream_locks: dict[int, threading.Lock] = {}
        self.ids: dict[str, int] = {}  # our stream key -> id
        self._keys: dict[int, str] = {}  # id -> our stream key (the reverse of `ids`)
        self.names: dict[int, str] = {}
        self._entity: dict[int, EntityData] = {}
        # broadcast id -> our streams whose marker recorded it in this run: only ever grows (a
        # reader checks the marker), each entry replaced whole, so a reader takes no lock
        self._recorders: dict[int, frozenset[int]] = {}
        self._origins: dict[int, set[int]] = {}  # stream -> changes whose edits are not written
        self._read_user: dict[int, Mapping[str, Any] | None] = {}  # user's part, last read
        # The client_entity_data text `_read_user` was decoded from, where it is a JSON object:
        # a re-read holding the same text needs no decoding.
        self._read_text: dict[int, str] = {}
        self._created: set[int] = set()  # streams this run created
        # stream -> its edited data and that data's text, as the edit checked its size: the
        # write sends that text when the user's part is still the same (no second encoding)
        self._encoded: dict[int, tuple[EntityData, str | None]] = {}
        for stream in live.streams:
            sid, data = stream.id, stream.entity
            self.names[sid] = str(stream.get("name") or "")
            self._entity[sid] = data
            self._read_user[sid] = data.user_data
            text = stream.get(ENTITY)
            if isinstance(text, str) and (data.marker is not None or data.user_data is not None):
                self._read_text[sid] = text  # it was decoded as a JSON object
        if set_name is not None:
            recorders: dict[int, set[int]] = defaultdict(set)
            for key, owned in ownership_of(live, set_name).owned.items():
                self._own(key, owned.id)
                for bid in owned.marker.broadcasts.values():
                    recorders[bid].add(owned.id)
            self._recorders = {bid: frozenset(sids) for bid, sids in recorders.items()}

    # --- bookkeeping -------------------------------------------------------------------------

    def _own(self, key: str, stream_id: int) -> None:
        """Caller holds `_lock` (or is the constructor)."""
        previous = self.ids.get(key)
        if previous is not None and previous != stream_id:
            self._keys.pop(previous, None)
        self.ids[key] = stream_id
        self._keys[stream_id] = key

    def _disown(self, stream_id: int) -> None:
        """Caller holds `_lock`."""
        key = self._keys.pop(stream_id, None)
        if key is not None and self.ids.get(key) == stream_id:
            del self.ids[key]

    def _index_marker(self, stream_id: int, old: Marker | None, new: Marker | None) -> None:
        """List the stream under each broadcast its marker gained (takes `_lock` only then; a
        broadcast it lost stays listed until the reader checks the marker)."""
        gained = set(new.broadcasts.values()) if new else set()
        if old:
            gained.difference_update(old.broadcasts.values())
        if gained:
            with self._lock:
                for bid in gained:
                    self._recorders[bid] = self._recorders.get(bid, frozenset()) | {stream_id}

    def note_plan(self, plan: Plan) -> None:
        """Streams the plan adopts or updates by id are ours under their manifest key."""
        for change in plan.changes:
            if change.resource is not Resource.STREAM or change.target_id is None:
                continue
            if (
                change.action in (Action.ADOPT, Action.UPDATE)
                and not change.key.startswith("#")
                and change.key not in self.ids
            ):
                self._own(change.key, change.target_id)
                self._index_marker(change.target_id, None, self.marker(change.target_id))

    def note_stream(
        self,
        key: str | None,
        stream_id: int,
        sent: Mapping[str, Any],
        got: Any,
        entity: EntityData | None = None,
    ) -> None:
        """Remember what a create or PATCH left on the stream (the answer wins over the body;
        `entity`: the client_entity_data this run just wrote, already decoded)."""
        answer: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
        if entity is None:
            entity = _entity_in(sent, answer)
        with self._stream_lock(stream_id):
            self._note(key, stream_id, sent, answer, entity)

    def _note(
        self,
        key: str | None,
        stream_id: int,
        sent: Mapping[str, Any],
        answer: Mapping[str, Any],
        entity: EntityData | None,
    ) -> None:
        """`note_stream`'s bookkeeping; the caller holds the stream's lock."""
        if "name" in answer or "name" in sent:
            self.names[stream_id] = str(answer.get("name", sent.get("name")) or "")
        old = self._entity.get(stream_id)
        if key is not None and self._keys.get(stream_id) != key:
            with self._lock:
                self._own(key, stream_id)
            old = None  # newly ours: index its marker from scratch
        if entity is not None:
            self._entity[stream_id] = entity
            self._read_user[stream_id] = entity.user_data  # as the account holds it now
            self._read_text.pop(stream_id, None)
            if entity.marker is None and stream_id in self._keys:
                # Ownership is the marker: a write that left none (an orphan) gave the stream
                # up, so no later edit of this run (a broadcast's release) writes one back.
                with self._lock:
                    self._disown(stream_id)
        now = self._entity.get(stream_id)
        if now is not old:
            self._index_marker(stream_id, old.marker if old else None, now.marker if now else None)

    # One read of one map needs no lock (it is atomic); what spans several reads takes `_lock`.

    def stream_id(self, key: str) -> int | None:
        return self.ids.get(key)

    def our_ids(self) -> set[int]:
        with self._lock:
            return set(self._keys)

    def key_of(self, stream_id: int) -> str | None:
        return self._keys.get(stream_id)

    def is_ours(self, stream_id: int) -> bool:
        return stream_id in self._keys

    def recording(self, broadcast_id: int) -> set[int]:
        """Our streams whose marker in this book records the broadcast."""
        listed = self._recorders.get(broadcast_id, frozenset())
        return {s for s in listed if self.is_ours(s) and _records(self.marker(s), broadcast_id)}

    def recorded_broadcasts(self) -> dict[str, set[int]]:
        """Broadcast key -> the ids our streams' markers record under it."""
        out: dict[str, set[int]] = defaultdict(set)
        for sid in self.our_ids():
            marker = self.marker(sid)
            for key, broadcast_id in (marker.broadcasts if marker else {}).items():
                out[key].add(broadcast_id)
        return out

    def with_name(self, stream_id: int, body: Mapping[str, Any]) -> Json:
        """Stream PATCH bodies always carry `name` (the SDK types it as required)."""
        out = dict(body)
        if "name" not in out:
            name = self.names.get(stream_id)
            if name:
                out["name"] = name
        return out

    def marker(self, stream_id: int) -> Marker | None:
        entity = self._entity.get(stream_id)
        return entity.marker if entity else None

    # --- marker edits ------------------------------------------------------------------------

    def _stream_lock(self, stream_id: int) -> threading.Lock:
        lock = self._stream_locks.get(stream_id)
        if lock is None:  # setdefault is atomic: threads racing here all get the same lock
            lock = self._stream_locks.setdefault(stream_id, threading.Lock())
        return lock

    def edit_marker(
        self, stream_id: int, edit: Callable[[Marker], Marker | None], origin: int | None = None
    ) -> bool:
        """Apply `edit` to the stream's marker in this book; False when nothing changed. Nothing
        is sent: the edit rides with the stream's next PATCH (`write_stream`) or `flush`, so a
        stream costs one marker write per stage whatever its broadcasts do. `origin` (a change)
        is told if that write fails. Raises MarkerTooLarge at once when it would not fit.

        `edit` returning None removes our marker (orphan): the set's release record takes its
        place (no Cleanup selects the stream later) and the user's own data stays beside it.
        """
        with self._stream_lock(stream_id):
            data = self._entity.get(stream_id) or _NO_ENTITY
            key = self._keys.get(stream_id)
            current = data.marker
            if current is None and key is not None and self.set_name is not None:
                current = Marker(set_name=self.set_name, key=key)
            if current is None:
                return False
            new = edit(current)
            if new == data.marker:
                return False
            released = current.set_name if new is None else None
            text = encode_entity_data(new, data.user_data, released)  # too large: say so now
            edited = EntityData(new, data.user_data, None, released_by=released)
            self._entity[stream_id] = edited
            self._encoded[stream_id] = (edited, text)
            self._index_marker(stream_id, data.marker, new)
            origins = self._origins.setdefault(stream_id, set())
            if origin is not None:
                origins.add(origin)
            return True

    def dirty(self) -> list[int]:
        """Streams whose marker in this book is not yet in the account (asked between stages,
        when no change is in flight)."""
        return sorted(self._origins)

    def origins(self, stream_id: int) -> set[int]:
        with self._stream_lock(stream_id):
            return set(self._origins.get(stream_id, ()))

    def forget_stream(self, stream_id: int) -> None:
        """The stream is gone (deleted by this run): nothing left to write on it."""
        with self._stream_lock(stream_id):
            self._origins.pop(stream_id, None)

    def flush(self, stream_id: int, fresh: Mapping[int, Json] | None = None) -> None:
        """Write the stream's pending marker edits in one PATCH (nothing if none)."""
        self.write_stream(stream_id, None, {}, only_if_pending=True, fresh=fresh)

    def write_stream(
        self,
        stream_id: int,
        key: str | None,
        body: Mapping[str, Any],
        *,
        only_if_pending: bool = False,
        fresh: Mapping[int, Json] | None = None,
    ) -> Json:
        """PATCH the stream with `body` plus its pending marker edits, as one request; the
        marker goes beside the user's keys as they are now (re-read just before: a human's
        concurrent edit is kept). `key`: the stream is ours under it from now on. `fresh`:
        streams the calling change read just before this write (its live re-check); such a
        read is the re-read, no second GET."""
        with self._stream_lock(stream_id):
            pending = stream_id in self._origins
            data = self._entity.get(stream_id)
            if only_if_pending and not pending:
                return {}
            read = (fresh or {}).get(stream_id)
            out = self.with_name(stream_id, body)
            if ENTITY in out:
                if pending:  # a planned marker and edits of this run: the edits first
                    self._write(stream_id, None, self.with_name(stream_id, {}), data, read)
                    read = None  # spent: the planned write re-reads after that PATCH
                planned = parse_entity(out[ENTITY])
                if planned.odd:  # never ours to write: the planner encodes objects only
                    raise ReconcilerError(f"stream #{stream_id}: {planned.odd}")
                return self._write(stream_id, key, out, planned.data, read)
            return self._write(stream_id, key, out, data if pending else None, read)

    def _write(
        self,
        stream_id: int,
        key: str | None,
        body: Json,
        meant: EntityData | None,
        read: Json | None = None,
    ) -> Json:
        """Caller holds the stream's lock. `meant`: the client_entity_data to write (None: not
        touched). Unless the write sets the user's part itself (declared in the manifest), our
        marker goes beside the user's part as the account holds it right now: the stream as
        `read` just before by the same change, else one GET; none for a stream this run
        created (nobody else has written it)."""
        sent = None
        if meant is not None:
            user = meant.user_data
            known, created = self._read_user.get(stream_id), stream_id in self._created
            if user == known and not created:
                user = self._user_now(stream_id, read)
            edited, text = self._encoded.pop(stream_id, (None, None))
            if edited is not meant or user is not meant.user_data:
                text = encode_entity_data(meant.marker, user, meant.released_by)
            body[ENTITY] = text or ""
            sent = EntityData(meant.marker, user, None, released_by=meant.released_by)
        answer = self.api.update_stream(stream_id, body)
        got: Mapping[str, Any] = answer if isinstance(answer, Mapping) else {}
        self._origins.pop(stream_id, None)
        self._note(key, stream_id, body, got, sent if sent is not None else _entity_in(body, got))
        if sent is not None:
            self._read_text[stream_id] = body[ENTITY]
        return answer

    def _user_now(self, stream_id: int, read: Json | None) -> Mapping[str, Any] | None:
        """The user's part of the stream's client_entity_data now: from `read` (the stream as
        the calling change read it just before), else read now."""
        raw = read if read is not None else self.api.get_stream(stream_id)
        text = raw.get(ENTITY)
        if isinstance(text, str) and self._read_text.get(stream_id) == text:
            return self._read_user.get(stream_id)  # unchanged since we last saw it
        now = parse_entity(text)
        if now.odd or not _is_object(now.data.raw):
            raise ReconcilerError(
                f"stream #{stream_id}: its client_entity_data was changed while this run was "
                "applying and is no longer a JSON object; not overwritten (the next run plans "
                "against it)"
            )
        self._read_user[stream_id] = now.data.user_data
        if isinstance(text, str):
            self._read_text[stream_id] = text
        return now.data.user_data

    def note_created(self, stream_id: int) -> None:
        with self._stream_lock(stream_id):
            self._created.add(stream_id)

    def record_broadcast(
        self, stream_ids: Iterable[int], key: str, broadcast_id: int, origin: int | None = None
    ) -> None:
        """Record the broadcast under `key` and clear the intent to create it (one edit)."""

        def add(marker: Marker) -> Marker:
            if (
                marker.broadcasts.get(key) == broadcast_id
                and broadcast_id not in marker.released_broadcasts
                and key not in marker.intents
            ):
                return marker
            return replace(
                marker,
                broadcasts={**marker.broadcasts, key: broadcast_id},
                released_broadcasts=marker.released_broadcasts - {broadcast_id},
                intents={k: v for k, v in marker.intents.items() if k != key},
            )

        for sid in sorted(set(stream_ids)):
            if self.is_ours(sid):
                self.edit_marker(sid, add, origin)

    def intend(self, stream_id: int, intents: Mapping[str, str]) -> bool:
        """Record the intents to create these broadcasts (key -> name) in this book; True when
        the marker changed (the caller writes it before the POSTs)."""

        def add(marker: Marker) -> Marker:
            if all(marker.intents.get(k) == v for k, v in intents.items()):
                return marker
            return replace(marker, intents={**marker.intents, **intents})

        return self.is_ours(stream_id) and self.edit_marker(stream_id, add)

    def intents(self) -> dict[tuple[str, str], set[int]]:
        """(broadcast key, name) -> our streams whose marker here records that intent."""
        out: dict[tuple[str, str], set[int]] = defaultdict(set)
        for sid in self.our_ids():
            marker = self.marker(sid)
            for key, name in (marker.intents if marker else {}).items():
                out[(key, name)].add(sid)
        return out

    def forget_broadcast(
        self,
        key: str,
        broadcast_id: int,
        *,
        skip: set[int],
        release: bool = False,
        origin: int | None = None,
    ) -> None:
        """Remove the broadcast id from every one of our markers that lists it; `release` (an
        orphan) also records the id as released there, so no later run recovers it by name."""

        def remove(marker: Marker, released: bool) -> Marker:
            kept = {k: v for k, v in marker.broadcasts.items() if v != broadcast_id}
            if len(kept) == len(marker.broadcasts):
                return marker
            return replace(
                marker,
                broadcasts=kept,
                protected_broadcasts=marker.protected_broadcasts - {key},
                orphan_broadcasts=marker.orphan_broadcasts - {key},
                live_after={k: v for k, v in marker.live_after.items() if k != key},
                released_broadcasts=marker.released_broadcasts | {broadcast_id}
                if released
                else marker.released_broadcasts,
            )

        # Only the streams that recorded it: no walk over every owned marker.
        listed = self._recorders.get(broadcast_id, frozenset())
        recorders = sorted(sid for sid in listed - skip if self.is_ours(sid))
        for sid in recorders:  # the edit leaves a marker that no longer lists it unchanged
            try:
                self.edit_marker(sid, lambda m: remove(m, release), origin)
            except MarkerTooLarge:  # no room to remember it: release it all the same
                self.edit_marker(sid, lambda m: remove(m, False), origin)


def _records(marker: Marker | None, broadcast_id: int) -> bool:
    return marker is not None and broadcast_id in marker.broadcasts.values()


def _entity_in(sent: Mapping[str, Any], answer: Mapping[str, Any]) -> EntityData | None:
    """The client_entity_data a create or PATCH left (the answer wins over the body), decoded;
    None when neither carries it."""
    if ENTITY in answer:
        return parse_entity(answer[ENTITY]).data
    if ENTITY in sent:
        return parse_entity(sent[ENTITY]).data
    return None


def _is_object(raw: str | None) -> bool:
    """Empty, or a JSON object: a value our marker can sit beside."""
    if not raw:
        return True
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False
