"""Which live objects a manifest set owns, answered once from the live state and the set name:
key -> managed stream (duplicate keys: see `_one_per_key`), broadcast id -> our streams recording
it (only a marker on a stream the broadcast uses counts), protected / orphaned / released
broadcasts, the intents to create recorded before a POST, other sets' objects, lock streams, and
streams whose data is too odd to be anybody's.

Pure; the planner, guards, cleanup, apply's marker book, export and status all read it. Knows
nothing of the API client or of what a plan does with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from reconciler.model.live import LiveState, LiveStream
from reconciler.model.marker import Marker


@dataclass(frozen=True, slots=True)
class OwnedStream:
    """A live stream carrying this set's marker."""

    stream: LiveStream
    marker: Marker

    @property
    def id(self) -> int:
        return self.stream.id

    @property
    def key(self) -> str:
        return self.marker.key

    @property
    def user_data(self) -> Mapping[str, object] | None:
        return self.stream.user_data


@dataclass(frozen=True)
class Ownership:
    set_name: str
    by_id: Mapping[int, LiveStream]  # every stream except lock streams
    owned: Mapping[str, OwnedStream]  # our key -> the managed stream (lowest id of that key)
    owned_by_id: Mapping[int, OwnedStream]  # every stream carrying our marker, duplicates too
    duplicates: Mapping[int, OwnedStream]  # carry a managed key, left untouched (never written)
    foreign: Mapping[int, str]  # stream id -> the other set whose marker it carries
    foreign_broadcasts: Mapping[int, str]  # broadcast id -> the other set whose marker lists it
    locks: frozenset[int]
    odd: Mapping[int, str]  # stream id -> why its data is unreadable (nobody's)
    recorded: Mapping[
        int, AbstractSet[str]
    ]  # live broadcast id -> keys our markers record it under
    recorders: Mapping[int, Sequence[OwnedStream]]  # live broadcast id -> streams recording it
    protected: frozenset[str]  # broadcast keys flagged protected in some marker
    orphaned: frozenset[str]  # broadcast keys flagged orphan in some marker
    released: frozenset[int]  # broadcast ids released by deletion policy orphan
    # (broadcast key, name) -> our streams whose marker records the intent to create it: the
    # evidence an interrupted create needs before a broadcast is recovered by its name
    intents: Mapping[tuple[str, str], frozenset[int]]
    warnings: tuple[str, ...]
    # our key -> why every change touching it is held: several streams carry our marker for it
    # and the evidence (which of them our broadcasts use) contradicts the lowest-id rule
    conflicts: Mapping[str, str] = field(default_factory=dict)

    def key_of(self, stream_id: int) -> str:
        owned = self.owned_by_id.get(stream_id)
        return owned.marker.key if owned else f"#{stream_id}"

    def is_managed(self, stream_id: int) -> bool:
        """Carries a marker of any set (ours or another's)."""
        return stream_id in self.owned_by_id or stream_id in self.foreign

    @property
    def managed_ids(self) -> dict[str, int]:
        """Our key -> the id of its managed stream (what apply writes to)."""
        return {key: owned.id for key, owned in self.owned.items()}


def ownership_of(live: LiveState, set_name: str) -> Ownership:
    """The index of `set_name` over `live`, built once per live state and set."""
    cache = live.ownership_cache
    if set_name not in cache:
        cache[set_name] = _build(live, set_name)
    found: Ownership = cache[set_name]
    return found


def _build(live: LiveState, set_name: str) -> Ownership:
    by_id: dict[int, LiveStream] = {}
    owned_by_id: dict[int, OwnedStream] = {}
    foreign: dict[int, str] = {}
    foreign_broadcasts: dict[int, str] = {}
    locks: set[int] = set()
    odd: dict[int, str] = {}
    groups: dict[str, list[OwnedStream]] = defaultdict(list)
    warnings: list[str] = []
    for stream in live.streams:
        if stream.carries_lock_record:
            locks.add(stream.id)
            continue
        by_id[stream.id] = stream
        if stream.odd:
            odd[stream.id] = stream.odd
            warnings.append(
                f"stream #{stream.id} ({stream.name!r}): {stream.odd}; treated as not managed by "
                "any set and never changed or cleaned up"
            )
        marker = stream.marker
        if marker is None:
            continue
        if marker.set_name != set_name:
            foreign[stream.id] = marker.set_name
            for bid in marker.broadcasts.values():
                foreign_broadcasts.setdefault(bid, marker.set_name)
            continue
        carrier = OwnedStream(stream, marker)
        owned_by_id[stream.id] = carrier
        groups[marker.key].append(carrier)
    recorded, recorders, protected, orphaned, released = _broadcast_records(
        live, owned_by_id, warnings
    )
    used = _streams_used_by(live, recorded)
    owned, duplicates, conflicts = _one_per_key(groups, used, warnings)
    return Ownership(
        set_name=set_name,
        by_id=by_id,
        owned=owned,
        owned_by_id=owned_by_id,
        duplicates=duplicates,
        foreign=foreign,
        foreign_broadcasts=foreign_broadcasts,
        locks=frozenset(locks),
        odd=odd,
        recorded=recorded,
        recorders=recorders,
        protected=protected,
        orphaned=orphaned,
        released=released,
        intents=_intents(owned_by_id),
        warnings=tuple(warnings),
        conflicts=conflicts,
    )


def _one_per_key(
    groups: Mapping[str, list[OwnedStream]], used: AbstractSet[int], warnings: list[str]
) -> tuple[dict[str, OwnedStream], dict[int, OwnedStream], dict[str, str]]:
    """The one rule for duplicate keys: the lowest id is managed, the others left untouched,
    never written. Unless the evidence says otherwise: the streams our broadcasts use (`used`)
    are the ones this set has been managing. When the lowest id is not the one they use (a
    forged copy on an older stream), or they use several, the key is a conflict: the stream they
    use is kept as the managed one and every change touching the key is held, never switched."""
    owned: dict[str, OwnedStream] = {}
    duplicates: dict[int, OwnedStream] = {}
    conflicts: dict[str, str] = {}
    for key in sorted(groups):
        if len(groups[key]) == 1:  # one stream carries the key (the rule has nothing to pick)
            owned[key] = groups[key][0]
            continue
        carriers = sorted(groups[key], key=lambda o: o.id)
        evidenced = [o for o in carriers if o.id in used]
        first = evidenced[0] if evidenced else carriers[0]
        others = [o for o in carriers if o is not first]
        owned[key] = first
        duplicates.update((o.id, o) for o in others)
        if not others:
            continue
        ids = ", ".join(f"#{o.id}" for o in others)
        if first is carriers[0] and len(evidenced) <= 1:
            warnings.append(
                f"stream '{key}': several streams carry this set's marker for it; #{first.id} "
                f"is managed, {ids} left untouched (delete or re-key them by hand)"
            )
            continue
        conflicts[key] = _conflict(key, carriers, evidenced)
        warnings.append(conflicts[key])
    return owned, duplicates, conflicts


def _conflict(key: str, carriers: Sequence[OwnedStream], evidenced: Sequence[OwnedStream]) -> str:
    ids = ", ".join(f"#{o.id}" for o in carriers)
    used = ", ".join(f"#{o.id}" for o in evidenced)
    return (
        f"stream '{key}': streams {ids} all carry this set's marker for it and this set's "
        f"broadcasts use {used}, not only the lowest id: a copied or forged marker; every change "
        f"touching '{key}' is held until the markers of the others are removed by hand"
    )


def _streams_used_by(live: LiveState, recorded: Mapping[int, AbstractSet[str]]) -> set[int]:
    """The stream ids our (cross-checked) broadcasts use: evidence of which stream is ours."""
    by_id = live.broadcast_by_id
    return {sid for bid in recorded for sid in by_id[bid].stream_ids}


def _intents(owned_by_id: Mapping[int, OwnedStream]) -> dict[tuple[str, str], frozenset[int]]:
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for sid, owned in owned_by_id.items():
        if not owned.marker.intents:
            continue  # no create in flight (most markers)
        for key, name in owned.marker.intents.items():
            found[(key, name)].add(sid)
    return {intent: frozenset(ids) for intent, ids in found.items()}


def _broadcast_records(
    live: LiveState, owned_by_id: Mapping[int, OwnedStream], warnings: list[str]
) -> tuple[
    dict[int, set[str]],
    dict[int, list[OwnedStream]],
    frozenset[str],
    frozenset[str],
    frozenset[int],
]:
    """What our markers record about broadcasts; ids no longer in the account are left out (the
    markers get repaired), and so is an entry on a stream the broadcast does not use (see
    `_claims`)."""
    recorded: dict[int, set[str]] = defaultdict(set)
    recorders: dict[int, list[OwnedStream]] = defaultdict(list)
    protected: set[str] = set()
    orphaned: set[str] = set()
    released: set[int] = set()
    unverified: list[tuple[OwnedStream, str, int]] = []
    for sid in sorted(owned_by_id):
        owned = owned_by_id[sid]
        marker = owned.marker
        for key, bid in _claims(live, owned, unverified):
            recorded[bid].add(key)
            streams = recorders[bid]
            if not streams or streams[-1] is not owned:
                streams.append(owned)
        if marker.protected_broadcasts:  # the optional lists are empty in most markers
            protected |= marker.protected_broadcasts
        if marker.orphan_broadcasts:
            orphaned |= marker.orphan_broadcasts
        if marker.released_broadcasts:
            released |= marker.released_broadcasts
    for owned, key, bid in unverified:
        # Recorded under the same key where the broadcast does show: our own entry for a move
        # not made yet (the plan records a broadcast on the streams it will use; a move held
        # while live waits), not evidence of anything. Counted nowhere either way.
        if key not in recorded.get(bid, ()):
            warnings.append(
                f"stream '{owned.key}' (#{owned.id}): its marker records broadcast '{key}' as "
                f"#{bid}, which does not use this stream: not counted as this set's (a copied, "
                "forged or stale entry)"
            )
    return (
        dict(recorded),
        dict(recorders),
        frozenset(protected),
        frozenset(orphaned),
        frozenset(released),
    )


def _claims(
    live: LiveState, owned: OwnedStream, unverified: list[tuple[OwnedStream, str, int]]
) -> list[tuple[str, int]]:
    """The (key, id) entries of a marker that make a broadcast ours: the broadcast exists and
    uses the stream carrying the marker. Anyone can write a marker; only an entry on a stream
    the broadcast shows on is evidence (a marker on some other stream claiming a human's
    broadcast would otherwise grant its deletion). Such an entry goes to `unverified`."""
    existing = live.broadcast_by_id
    claims = []
    sid = owned.stream.id
    for key, bid in owned.marker.broadcasts.items():
        broadcast = existing.get(bid)
        if broadcast is None:
            continue
        # A listing without the field cannot be cross-checked: the marker is trusted as before
        # (un-owning every broadcast would make the planner create them all again).
        if sid in broadcast.stream_ids or "stream_ids" not in broadcast.raw:
            claims.append((key, bid))
            continue
        unverified.append((owned, key, bid))
    return claims


def recorded_but_not_listed(live: LiveState, set_name: str) -> tuple[int, ...]:
    """The broadcast ids our markers record (duplicates' markers too) that the sweep did not
    return, lowest first: each is either gone (deleted by hand: its entry gets repaired) or
    proof that the read was incomplete. Raw entries: the cross-check needs the broadcast."""
    listed = live.broadcast_by_id
    own = ownership_of(live, set_name)
    recorded = {bid for o in own.owned_by_id.values() for bid in o.marker.broadcasts.values()}
    return tuple(sorted(bid for bid in recorded if bid not in listed))
