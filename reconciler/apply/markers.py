"""What apply knows about our streams while it runs: key -> id, current names and the current
`client_entity_data`, the serialised edits of the broadcasts recorded in the markers, and how a
create whose outcome is unknown is recognised in a listing.

Knows the API only through `StreamingAPI`; knows nothing of stages or scheduling.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import MarkerTooLarge
from reconciler.model.changes import Action, Plan, Resource
from reconciler.model.live import ENTITY, LiveState, marker_in, parse_entity
from reconciler.model.marker import EntityData, Marker, encode_entity_data
from reconciler.model.ownership import ownership_of

Json = dict[str, Any]


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
    those). Every marker edit of one stream runs under that stream's lock."""

    def __init__(self, api: StreamingAPI, live: LiveState, set_name: str | None) -> None:
        self.api = api
        self.set_name = set_name
        self._lock = threading.Lock()
        self._stream_locks: dict[int, threading.Lock] = {}
        self.ids: dict[str, int] = {}  # our stream key -> id
        self._keys: dict[int, str] = {}  # id -> our stream key (the reverse of `ids`)
        self.names: dict[int, str] = {}
        self._entity: dict[int, EntityData] = {}
        self._recorders: dict[int, set[int]] = defaultdict(set)  # broadcast id -> stream ids
        for stream in live.streams:
            self.names[stream.id] = str(stream.get("name") or "")
            self._entity[stream.id] = stream.entity
        if set_name is not None:
            for key, owned in ownership_of(live, set_name).owned.items():
                self._own(key, owned.id)
                self._index_marker(owned.id, None, owned.marker)

    # --- bookkeeping -------------------------------------------------------------------------

    def _own(self, key: str, stream_id: int) -> None:
        """Caller holds `_lock` (or is the constructor)."""
        previous = self.ids.get(key)
        if previous is not None and previous != stream_id:
            self._keys.pop(previous, None)
        self.ids[key] = stream_id
        self._keys[stream_id] = key

    def _index_marker(self, stream_id: int, old: Marker | None, new: Marker | None) -> None:
        """Keep broadcast id -> recording streams in step with a marker change (under `_lock`)."""
        for bid in old.broadcasts.values() if old else ():
            self._recorders[bid].discard(stream_id)
        for bid in new.broadcasts.values() if new else ():
            self._recorders[bid].add(stream_id)

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
        self, key: str | None, stream_id: int, sent: Mapping[str, Any], got: Any
    ) -> None:
        """Remember what a create or PATCH left on the stream (the answer wins over the body)."""
        answer: Mapping[str, Any] = got if isinstance(got, Mapping) else {}
        entity: EntityData | None = None
        if ENTITY in answer:
            entity = parse_entity(answer[ENTITY]).data
        elif ENTITY in sent:
            entity = parse_entity(sent[ENTITY]).data
        with self._lock:
            if "name" in answer or "name" in sent:
                self.names[stream_id] = str(answer.get("name", sent.get("name")) or "")
            old = self._entity.get(stream_id)
            if key is not None and self._keys.get(stream_id) != key:
                self._own(key, stream_id)
                old = None  # newly ours: index its marker from scratch
            if entity is not None:
                self._entity[stream_id] = entity
            now = self._entity.get(stream_id)
            if now is not old:
                self._index_marker(
                    stream_id, old.marker if old else None, now.marker if now else None
                )

    def stream_id(self, key: str) -> int | None:
        with self._lock:
            return self.ids.get(key)

    def our_ids(self) -> set[int]:
        with self._lock:
            return set(self._keys)

    def is_ours(self, stream_id: int) -> bool:
        with self._lock:
            return stream_id in self._keys

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
            with self._lock:
                name = self.names.get(stream_id)
            if name:
                out["name"] = name
        return out

    def marker(self, stream_id: int) -> Marker | None:
        with self._lock:
            entity = self._entity.get(stream_id)
        return entity.marker if entity else None

    # --- marker edits ------------------------------------------------------------------------

    def _stream_lock(self, stream_id: int) -> threading.Lock:
        with self._lock:
            return self._stream_locks.setdefault(stream_id, threading.Lock())

    def edit_marker(self, stream_id: int, edit: Callable[[Marker], Marker | None]) -> bool:
        """Apply `edit` to the stream's current marker and PATCH it; False when nothing changed.

        `edit` returning None removes our marker (orphan); the user's own data stays beside it.
        """
        with self._stream_lock(stream_id):
            with self._lock:
                data = self._entity.get(stream_id) or EntityData(None, None, None)
                key = self._keys.get(stream_id)
            current = data.marker
            if current is None and key is not None and self.set_name is not None:
                current = Marker(set_name=self.set_name, key=key)
            if current is None:
                return False
            new = edit(current)
            if new == data.marker:
                return False
            encoded = encode_entity_data(new, data.user_data) or ""
            body = self.with_name(stream_id, {ENTITY: encoded})
            answer = self.api.update_stream(stream_id, body)
            self.note_stream(None, stream_id, body, answer)
            return True

    def record_broadcast(self, stream_ids: Iterable[int], key: str, broadcast_id: int) -> None:
        def add(marker: Marker) -> Marker:
            if (
                marker.broadcasts.get(key) == broadcast_id
                and broadcast_id not in marker.released_broadcasts
            ):
                return marker
            return replace(
                marker,
                broadcasts={**marker.broadcasts, key: broadcast_id},
                released_broadcasts=marker.released_broadcasts - {broadcast_id},
            )

        for sid in sorted(set(stream_ids)):
            if self.is_ours(sid):
                self.edit_marker(sid, add)

    def forget_broadcast(
        self, key: str, broadcast_id: int, *, skip: set[int], release: bool = False
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

        with self._lock:  # only the streams recording it: no walk over every owned marker
            recorders = sorted(
                sid
                for sid in self._recorders.get(broadcast_id, ())
                if sid in self._keys and sid not in skip
            )
        for sid in recorders:
            try:
                self.edit_marker(sid, lambda m: remove(m, release))
            except MarkerTooLarge:  # no room to remember it: release it all the same
                self.edit_marker(sid, lambda m: remove(m, False))


def match_lost_streams(
    listing: Iterable[Mapping[str, Any]], wanted: Mapping[int, str | None]
) -> dict[int, Json]:
    """`wanted` maps a lost create to the `client_entity_data` it sent; each is matched to the
    listed stream carrying the same marker (set + key), the lowest id if there are several."""
    keys: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, raw in wanted.items():
        marker = marker_in(raw)
        if marker is not None:
            keys[(marker.set_name, marker.key)].append(index)
    best: dict[tuple[str, str], Mapping[str, Any]] = {}
    for stream in listing:
        marker = marker_in(stream.get(ENTITY))
        if marker is None or (marker.set_name, marker.key) not in keys:
            continue
        key = (marker.set_name, marker.key)
        if key not in best or int(stream["id"]) < int(best[key]["id"]):
            best[key] = stream
    return {i: dict(best[key]) for key, indexes in keys.items() if key in best for i in indexes}


def match_lost_broadcasts(
    listing: Iterable[Mapping[str, Any]],
    wanted: Mapping[int, tuple[Mapping[str, Any], Sequence[int]]],
    *,
    known: Iterable[int],
    ours: set[int],
) -> dict[int, Json]:
    """`wanted` maps a lost create to the body and stream ids it sent. A match is a broadcast
    this run did not know (`known`: those that existed before it or that it made), with the same
    name and using one of our streams among those; each is taken once: an identical stream set
    first, then the newest."""
    names = {body.get("name") for body, _ids in wanted.values()}
    seen = set(known)
    candidates: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for broadcast in listing:
        if broadcast.get("name") in names and int(broadcast["id"]) not in seen:
            candidates[broadcast.get("name")].append(broadcast)
    taken: set[int] = set()
    out: dict[int, Json] = {}
    for index, (body, sent_ids) in sorted(wanted.items()):
        ids = set(sent_ids)
        look_for = ids & ours or ids
        scored = []
        for broadcast in candidates[body.get("name")]:
            uses = {int(s) for s in broadcast.get("stream_ids") or []}
            # Without stream ids (the planner never sends that) the name alone must do.
            if int(broadcast["id"]) not in taken and (look_for & uses or not ids):
                scored.append(((uses == ids, int(broadcast["id"])), broadcast))
        if scored:
            _score, match = max(scored, key=lambda pair: pair[0])
            taken.add(int(match["id"]))
            out[index] = dict(match)
    return out
