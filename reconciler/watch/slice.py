"""The slice a hint concerns: GET the object(s), the broadcasts our markers record on them and
the other streams of those broadcasts (never a list sweep); the manifests restricted to what
those streams and broadcasts are; the plan of that slice by the same planner and guards, with
prune off. A slice plan that would create, adopt, delete or release is not trusted to a
partial read (a create may exist under a name only a sweep finds): the caller runs a full
resync instead. Knows no HTTP and no queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import NotFoundError
from reconciler.model.changes import Action, Change, Plan
from reconciler.model.desired import DesiredState
from reconciler.model.live import Json, LiveState, LiveStream
from reconciler.pipeline import RunOptions, plan_for
from reconciler.redact import register_secrets
from reconciler.watch.hints import Hint, Kind

# What a slice may write: changes to objects it has read in full. Anything else needs the
# account-wide read (a create may already exist under a name only a sweep finds).
SLICE_ACTIONS = frozenset(
    {
        Action.UPDATE,
        Action.SET_STATUS,
        Action.ACTIVATE,
        Action.DEACTIVATE,
        Action.START_RECORDING,
        Action.STOP_RECORDING,
    }
)


@dataclass(frozen=True)
class SlicePlan:
    plan: Plan  # empty when the hint concerns nothing of this set
    live: LiveState
    needs_full: str | None = None  # why the slice defers to a full resync, or None
    reads: int = 0  # GET requests the slice made


def read_slice(api: StreamingAPI, hint: Hint) -> tuple[LiveState, int]:
    """The hinted object, the broadcasts on its streams, their other streams; by GET only.
    Objects gone (404) are left out: an unknown id costs a read and nothing else."""
    streams: dict[int, Json] = {}
    broadcasts: dict[int, Json] = {}
    reads = 0

    def fetch(kind: str, ids: Iterable[int]) -> list[Json]:
        nonlocal reads
        found: list[Json] = []
        into = streams if kind == "stream" else broadcasts
        for oid in sorted(set(ids) - set(into)):
            reads += 1
            try:
                raw = api.get_stream(oid) if kind == "stream" else api.get_broadcast(oid)
            except NotFoundError:
                continue
            into[oid] = raw
            found.append(raw)
        return found

    seeds = [hint.id] if hint.kind is Kind.STREAM else []
    if hint.kind is Kind.BROADCAST:
        for raw in fetch("broadcast", [hint.id]):
            seeds += _ids(raw.get("stream_ids"))
    first = [LiveStream.parse(raw) for raw in fetch("stream", seeds)]
    others: list[Json] = []
    for raw in fetch("broadcast", [bid for s in first for bid in _recorded(s)]):
        others += fetch("stream", _ids(raw.get("stream_ids")))
    # Every broadcast a slice stream's marker records is read: its marker is planned on all of
    # what it records (an entry is dropped only for a broadcast really gone).
    fetch("broadcast", [bid for raw in others for bid in _recorded(LiveStream.parse(raw))])
    register_secrets(s.get("token") for s in streams.values())  # masked in every output
    register_secrets(s.get("srt_passphrase") for s in streams.values())
    live = LiveState.from_raw(streams.values(), broadcasts.values())
    return live, reads


def _recorded(stream: LiveStream) -> list[int]:
    marker = stream.marker
    return [*stream.broadcast_ids, *(marker.broadcasts.values() if marker else ())]


def _ids(value: object) -> list[int]:
    if not isinstance(value, list):
        return []
    return [i for i in value if type(i) is int]


def desired_slice(desired: DesiredState, live: LiveState) -> DesiredState:
    """The manifests restricted to the set's streams in `live` and the broadcasts whose streams
    are all among them; no cleanup policies (they need the whole account)."""
    set_name = desired.settings.set_name
    keys = {
        s.marker.key
        for s in live.streams
        if s.marker is not None and s.marker.set_name == set_name and not s.odd
    }
    keys &= set(desired.streams)
    # The broadcasts all of whose streams were read; the others wait for the full resync.
    wanted = {k: b for k, b in desired.broadcasts.items() if set(b.stream_keys) <= keys}
    streams = {k: s for k, s in desired.streams.items() if k in keys}
    return replace(desired, streams=streams, broadcasts=wanted, cleanups=())


def plan_slice(
    desired: DesiredState, api: StreamingAPI, hint: Hint, options: RunOptions
) -> SlicePlan:
    live, reads = read_slice(api, hint)
    scoped = desired_slice(desired, live)
    if not scoped.streams:
        return SlicePlan(Plan(), live, reads=reads)  # not ours: a read, then nothing
    plan = plan_for(scoped, live, api, replace(options, prune=False))
    outside = [c for c in plan.pending if not _slice_may_write(c)]
    why = None
    if outside:
        why = f"{_describe(outside[0])} needs the whole account's read"
    return SlicePlan(plan, live, needs_full=why, reads=reads)


def _slice_may_write(change: Change) -> bool:
    return change.action in SLICE_ACTIONS


def _describe(change: Change) -> str:
    return f"{change.action} {change.resource} '{change.key}'"
