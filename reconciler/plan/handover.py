"""The holds between the changes of one run on a stream reused between shows (invariant 6): the
leaving show leaves the stream, then the stream's ingest changes, then the next show goes live.

Pure: adds `depends_on` edges to planned changes, and the finish of a show that leaves the set
while up on a stream another show goes up on. Knows nothing of the API client, guards or output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from reconciler.model.changes import Action, Change, FieldDiff, Resource, Stage
from reconciler.model.live import INGEST_FIELDS

STREAM_CHANGES = (Action.UPDATE, Action.ADOPT)
UP = ("live", "paused")  # on air, as far as the broadcast's status goes
PRUNES = (Action.DELETE, Action.ORPHAN)


@dataclass(frozen=True)
class Whereabouts:
    """Where a broadcast with a change in this run is, and will be, by stream key."""

    now: frozenset[str]  # the streams it uses in the account (none for one to create)
    declared: frozenset[str]  # the streams the manifests give it (none for a pruned one)
    status: str | None = None  # its status in the account (None for one to create)

    @property
    def up(self) -> bool:
        return self.status in UP

    @property
    def streams(self) -> frozenset[str]:
        return self.now | self.declared


def link_handovers(changes: Iterable[Change], shows: Mapping[str, Whereabouts]) -> list[Change]:
    """`changes` with the handover holds added as `depends_on`.

    `shows` maps the key of each broadcast with a change to its `Whereabouts`. One answer to
    "which show is leaving" (`_leaves`): a finish, a show up now taken back to `pending` or
    moved off the stream, and a show up now that leaves the set (deleted or released), which
    first finishes when another show goes up on its stream (it would stay live until its delete
    at the end of the run, and for good when released). On each stream: an ingest change waits
    for the finishes of the broadcasts on it; a broadcast going live or paused waits for every
    leaving change of the others and for the ingest change. A held leaving change therefore
    holds the go-live ("waits for ..."), so two shows are never live on one stream.
    """
    changes = _finishes_before_leaving_the_set(list(changes), shows)
    leaving: dict[str, list[Change]] = defaultdict(list)  # stream key -> changes leaving it
    ingest: dict[str, str] = {}  # stream key -> its ingest change id
    for change in changes:
        for skey in _leaves(change, shows.get(change.key)):
            leaving[skey].append(change)
        if _changes_ingest(change):
            ingest[change.key] = change.id
    out = []
    for change in changes:
        waits: list[str] = []
        if _changes_ingest(change):  # only the finishes run before it (stage order)
            waits = [c.id for c in leaving.get(change.key, ()) if _is_status(c, ("finished",))]
        elif _is_status(change, UP):
            for skey in sorted(_streams(shows.get(change.key))):
                waits += [c.id for c in leaving.get(skey, ()) if c.key != change.key]
                if skey in ingest:
                    waits.append(ingest[skey])
        new = tuple(dict.fromkeys(w for w in waits if w not in change.depends_on))
        out.append(replace(change, depends_on=(*change.depends_on, *new)) if new else change)
    return out


def _leaves(change: Change, show: Whereabouts | None) -> frozenset[str]:
    """The streams `change` takes its broadcast off (on air or not, as a status goes)."""
    if show is None or change.resource is not Resource.BROADCAST:
        return frozenset()
    if _is_status(change, ("finished",)) or (show.up and _is_status(change, ("pending",))):
        return show.streams
    if show.up and change.action in STREAM_CHANGES and change.stream_refs:
        return show.now - frozenset(change.stream_refs)
    return frozenset()  # a prune leaves through the finish planned before it


def _finishes_before_leaving_the_set(
    changes: list[Change], shows: Mapping[str, Whereabouts]
) -> list[Change]:
    """`changes` plus a finish for each broadcast deleted or released while up on a stream that
    another broadcast goes up on in this run; its prune depends on that finish."""
    rising: dict[str, set[str]] = defaultdict(set)  # stream key -> broadcasts going up on it
    for change in changes:
        if _is_status(change, UP):
            for skey in _streams(shows.get(change.key)):
                rising[skey].add(change.key)
    out, finishes = [], []
    for change in changes:
        show = shows.get(change.key)
        if change.resource is Resource.BROADCAST and change.action in PRUNES and show and show.up:
            on = sorted(s for s in show.now if rising.get(s, set()) - {change.key})
            if on:
                nexts = sorted(set().union(*(rising[s] for s in on)) - {change.key})
                finishes.append(_finish(change, show, on, nexts))
                change = replace(change, depends_on=(*change.depends_on, finishes[-1].id))
        out.append(change)
    return out + finishes


def _finish(change: Change, show: Whereabouts, on: list[str], nexts: list[str]) -> Change:
    how = "release" if change.action is Action.ORPHAN else "delete"
    return Change(
        Resource.BROADCAST,
        change.key,
        Action.SET_STATUS,
        Stage.BROADCASTS_FINISHED,
        target_id=change.target_id,
        title=change.title,
        diffs=(FieldDiff("replace", "/status", show.status, "finished"),),
        body={"status": "finished", "name": change.title},
        reason=(
            f"removed from the manifests; it finishes before its {how}, since "
            f"{_names('broadcast', nexts)} goes up on {_names('stream', on)} (handover)"
        ),
    )


def _names(kind: str, keys: list[str]) -> str:
    return f"{kind} " + ", ".join(f"'{k}'" for k in keys)


def _streams(show: Whereabouts | None) -> frozenset[str]:
    return show.streams if show is not None else frozenset()


def _is_status(change: Change, statuses: tuple[str, ...]) -> bool:
    return (
        change.resource is Resource.BROADCAST
        and change.action is Action.SET_STATUS
        and change.body.get("status") in statuses
    )


def _changes_ingest(change: Change) -> bool:
    return (
        change.resource is Resource.STREAM
        and change.action in STREAM_CHANGES
        and any(d.path.lstrip("/") in INGEST_FIELDS for d in change.diffs)
    )
