"""Live-safety at the moment of the write (invariant 5): a change that would disturb its streams
were they on air re-reads each of them (one GET) just before its request, and is held if one is
on air now. The rule itself is the guards' (`live_disturbance`), handed in as `LiveHold`. The
streams read are handed back: the change's marker write merges beside them (no second GET).

Knows the API only through `StreamingAPI`; knows nothing of scheduling or of the guards' module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.api.protocol import Json, StreamingAPI
from reconciler.errors import ReconcilerError
from reconciler.model.changes import Change, Resource
from reconciler.model.live import LiveBroadcast, LiveState, LiveStream
from reconciler.model.marker import EntityData

# Why a change would disturb an on-air stream (with the user's way to allow it), or None.
LiveHold = Callable[[Change, LiveState], str | None]
# Stream id -> the stream as a change re-read it just before its write (raw, as the API answered).
Reads = dict[int, Json]
_NO_ENTITY = EntityData(None, None, None)


class Held(ReconcilerError):
    """Re-read just before its write, the change would disturb a stream now on air."""


class LiveRecheck:
    """The re-check of one apply. `live`: the read the plan was made from (it says which streams
    a change concerns and whether it could disturb them at all, never whether they are idle)."""

    def __init__(self, api: StreamingAPI, live: LiveState, rule: LiveHold | None) -> None:
        self.api = api
        self.live = live
        self.rule = rule
        self._moved: dict[int, list[int]] = {}  # broadcast id -> its streams, set by this run

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
        """Raise Held when the change would disturb a stream on air now; else the streams read.
        Only a change that would disturb its streams were they on air costs a GET per stream
        (the caps keep these few); a change the user allowed (`live_allowed`) costs nothing."""
        if self.rule is None or change.live_allowed or change.target_id is None:
            return {}
        stream_ids, broadcast = self._streams_of(change)
        if not stream_ids or self.rule(change, self._assumed_on_air(stream_ids, broadcast)) is None:
            return {}
        reads = {sid: self.api.get_stream(sid) for sid in stream_ids}
        why = self.rule(change, _state([_unmarked(raw) for raw in reads.values()], broadcast))
        if why is not None:
            raise Held(f"on air when re-read just before the write: {why}")
        return reads

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


def _state(streams: list[LiveStream], broadcast: LiveBroadcast | None) -> LiveState:
    return _Few(streams=tuple(streams), broadcasts=(broadcast,) if broadcast else ())


def _unmarked(raw: Json) -> LiveStream:
    """A stream read for its live state only: its client_entity_data is not decoded (the rule
    never looks at markers)."""
    return LiveStream(int(raw["id"]), raw, _NO_ENTITY)
