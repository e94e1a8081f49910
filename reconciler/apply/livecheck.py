"""Safety at the moment of the write: a change that would disturb its streams were they on air
re-reads each of them (one GET) just before its request, and is held if one is on air now
(invariant 5); a change that a broadcast using its stream would forbid (a Cleanup deletion) is
also held when a broadcast uses the stream now, the broadcasts swept once per stage. The rules
are the safety layer's (`live_disturbance`, `cleanup_recheck`), handed in as `LiveHold`.
The streams read are handed back: the change's marker write merges beside them (no second GET).

Knows the API only through `StreamingAPI`; knows nothing of scheduling or of the safety modules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.api.protocol import Json, StreamingAPI
from reconciler.errors import NotFoundError, ReconcilerError
from reconciler.model.changes import Change, Resource
from reconciler.model.live import LiveBroadcast, LiveState, LiveStream
from reconciler.model.marker import EntityData

# Why a change would disturb an on-air stream (with the user's way to allow it), or None.
LiveHold = Callable[[Change, LiveState], str | None]
# Stream id -> the stream as a change re-read it just before its write (raw, as the API answered).
Reads = dict[int, Json]
_NO_ENTITY = EntityData(None, None, None)


class Held(ReconcilerError):
    """Re-read just before its write, the change would disturb a stream now on air, or delete
    one that a broadcast uses now."""


class LiveRecheck:
    """The re-check of one apply. `live`: the read the plan was made from (it says which streams
    a change concerns and whether it could disturb them at all, never whether they are idle).
    `rule`: the live rule (skipped for a change the user allowed); `in_use`: the rule over the
    broadcasts that use a stream (never skipped), given the streams re-read and every broadcast."""

    def __init__(
        self,
        api: StreamingAPI,
        live: LiveState,
        rule: LiveHold | None,
        in_use: LiveHold | None = None,
    ) -> None:
        self.api = api
        self.live = live
        self.rule = rule
        self.in_use = in_use
        self._moved: dict[int, list[int]] = {}  # broadcast id -> its streams, set by this run
        self._swept: dict[int, tuple[LiveBroadcast, ...] | ReconcilerError] = {}  # per stage
        self._sweeping = threading.Lock()

    def note_streams(self, broadcast_id: int, stream_ids: Sequence[int]) -> None:
        """This run changed the broadcast's streams: a later re-check reads these."""
        self._moved[broadcast_id] = list(stream_ids)

    def broadcast_streams(self, broadcast_id: int) -> list[int]:
        """The broadcast's streams: as this run set them, else as the plan's read found them."""
        if broadcast_id in self._moved:
            return list(self._moved[broadcast_id])
        known = self.live.broadcast_by_id.get(broadcast_id)
        return list(known.stream_ids) if known is not None else []

    def check(self, change: Change) -> Reads:
        """Raise Held when the change would disturb a stream on air now, or delete one that a
        broadcast uses now; else the streams read. Only a change that would disturb its streams
        were they on air costs a GET per stream (the caps keep these few); a change the user
        allowed (`live_allowed`) costs nothing, unless a broadcast using its stream would
        forbid it: then the stage's broadcasts are swept once, before the first such GET."""
        if change.target_id is None:
            return {}
        stream_ids, broadcast = self._streams_of(change)
        if not stream_ids:
            return {}
        live_rule = None
        if self.rule is not None and not change.live_allowed:
            assumed = self._assumed_on_air(stream_ids, broadcast)
            live_rule = self.rule if self.rule(change, assumed) is not None else None
        use_rule = None
        if self.in_use is not None and self.in_use(change, _assumed_in_use(stream_ids)) is not None:
            use_rule = self.in_use
        if live_rule is None and use_rule is None:
            return {}
        # The sweep first: a broadcast made after it still shows in the stream's broadcast_ids.
        swept = self._broadcasts(change.stage) if use_rule is not None else ()
        reads = {sid: self.api.get_stream(sid) for sid in stream_ids}
        streams = [_unmarked(raw) for raw in reads.values()]
        why = live_rule(change, _state(streams, broadcast)) if live_rule is not None else None
        if why is not None:
            raise Held(f"on air when re-read just before the write: {why}")
        if use_rule is not None:
            users = _Few(
                streams=tuple(streams), broadcasts=swept + self._made_since(streams, swept)
            )
            why = use_rule(change, users)
            if why is not None:
                raise Held(f"in use when re-read just before the write: {why}")
        return reads

    def _broadcasts(self, stage: int) -> tuple[LiveBroadcast, ...]:
        """Every broadcast, swept once per stage: the first change that needs them reads them,
        the others wait for that read. A failed sweep fails each change that needed it."""
        with self._sweeping:
            if stage not in self._swept:
                try:
                    listed = self.api.list_broadcasts()
                    self._swept[stage] = tuple(map(LiveBroadcast.parse, listed))
                except ReconcilerError as error:
                    self._swept[stage] = error
            swept = self._swept[stage]
        if isinstance(swept, ReconcilerError):
            raise ReconcilerError(f"reading the broadcasts before the write: {swept}")
        return swept

    def _made_since(
        self, streams: Sequence[LiveStream], swept: Sequence[LiveBroadcast]
    ) -> tuple[LiveBroadcast, ...]:
        """The broadcasts a re-read stream names (`broadcast_ids`) that the sweep did not list:
        made since, read one by one (gone again: nothing to wait for)."""
        known = {b.id for b in swept}
        found = []
        for broadcast_id in sorted({i for s in streams for i in s.broadcast_ids} - known):
            try:
                found.append(LiveBroadcast.parse(self.api.get_broadcast(broadcast_id)))
            except NotFoundError:
                continue
        return tuple(found)

    def _streams_of(self, change: Change) -> tuple[list[int], LiveBroadcast | None]:
        assert change.target_id is not None
        if change.resource is Resource.STREAM:
            return [change.target_id], None
        known = self.live.broadcast_by_id.get(change.target_id)
        if change.resource is not Resource.BROADCAST or known is None:
            return [], None
        ids = self._moved.get(change.target_id)
        if ids is None:  # as read: the broadcast itself, no copy
            return list(known.stream_ids), known
        return list(ids), LiveBroadcast.parse({**known.raw, "stream_ids": ids})

    def _assumed_on_air(self, stream_ids: list[int], broadcast: LiveBroadcast | None) -> LiveState:
        known = self.live.stream_by_id
        streams = [
            _unmarked({**(known[s].raw if s in known else {"id": s}), "live": True})
            for s in stream_ids
        ]
        return _state(streams, broadcast)


@dataclass(frozen=True)
class _Few(LiveState):
    """The one or two objects a re-check hands the rule, indexed on each look-up. LiveState's
    indexes are `functools.cached_property`, whose lock in Python 3.11 is one per class: the
    first look-up on every new state takes it, and eight workers re-checking at once queued
    on it (a lock convoy: 10,000 live deletes cost up to twice the CPU)."""

    @property
    def stream_by_id(self) -> Mapping[int, LiveStream]:
        return {s.id: s for s in self.streams}

    @property
    def broadcast_by_id(self) -> Mapping[int, LiveBroadcast]:
        return {b.id: b for b in self.broadcasts}


def _assumed_in_use(stream_ids: list[int]) -> LiveState:
    """The worst case for the in-use rule: a broadcast not finished shows every one of these
    streams (is the change one that such a broadcast would forbid at all?)."""
    streams = tuple(_unmarked({"id": s}) for s in stream_ids)
    anyone = LiveBroadcast(0, tuple(stream_ids), {"id": 0, "status": "pending"})
    return _Few(streams=streams, broadcasts=(anyone,))


def _state(streams: list[LiveStream], broadcast: LiveBroadcast | None) -> LiveState:
    return _Few(streams=tuple(streams), broadcasts=(broadcast,) if broadcast else ())


def _unmarked(raw: Json) -> LiveStream:
    """A stream read for its live state only: its client_entity_data is not decoded (the rule
    never looks at markers)."""
    return LiveStream(int(raw["id"]), raw, _NO_ENTITY)
