"""The holds between the changes of one run on a stream reused between shows (invariant 6): the
leaving show finishes, then the stream's ingest changes, then the next show goes live.

Pure: adds `depends_on` edges to planned changes. Knows nothing of the API client, guards or output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace

from reconciler.model.changes import Action, Change, Resource
from reconciler.model.live import INGEST_FIELDS

STREAM_CHANGES = (Action.UPDATE, Action.ADOPT)


def link_handovers(
    changes: Iterable[Change], broadcast_streams: Mapping[str, frozenset[str]]
) -> list[Change]:
    """`changes` with the handover holds added as `depends_on`.

    `broadcast_streams` maps a broadcast key to the stream keys it uses now or will use (live and
    declared). On each stream: an ingest change waits for the finishes of the other broadcasts on
    it; a broadcast going live or paused waits for those finishes and for the ingest change. A held
    finish therefore holds both ("waits for ..."), so two shows are never live on one stream.
    """
    changes = list(changes)
    finishes: dict[str, list[str]] = defaultdict(list)  # stream key -> finish ids on it
    ingest: dict[str, str] = {}  # stream key -> its ingest change id
    for change in changes:
        if _is_status(change, ("finished",)):
            for skey in broadcast_streams.get(change.key, ()):
                finishes[skey].append(change.id)
        elif _changes_ingest(change):
            ingest[change.key] = change.id
    out = []
    for change in changes:
        waits: list[str] = []
        if _changes_ingest(change):
            waits = finishes.get(change.key, [])
        elif _is_status(change, ("live", "paused")):
            for skey in sorted(broadcast_streams.get(change.key, ())):
                waits += [f for f in finishes.get(skey, ()) if not f.startswith(_prefix(change))]
                if skey in ingest:
                    waits.append(ingest[skey])
        new = tuple(dict.fromkeys(w for w in waits if w not in change.depends_on))
        out.append(replace(change, depends_on=(*change.depends_on, *new)) if new else change)
    return out


def _prefix(change: Change) -> str:
    return f"{change.resource}/{change.key}/"


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
