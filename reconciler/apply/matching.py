"""How apply recognises the object of a create in a listing (invariant 8): a stream by our
marker (set + key), a broadcast by its name, on one of our streams that recorded the intent to
create it under that key, and never one this run knew before its POST.

Pure functions over listed objects; knows nothing of the API client or of scheduling.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.model.live import ENTITY, marker_in

Json = dict[str, Any]
Intents = Mapping[tuple[str, str], Iterable[int]]  # (broadcast key, name) -> our stream ids


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
    wanted: Mapping[int, tuple[str, Mapping[str, Any], Sequence[int]]],
    *,
    known: Iterable[int],
    intents: Intents,
) -> dict[int, Json]:
    """`wanted` maps a create to its key, the body and the stream ids it sent. A match is a
    broadcast this run did not know (`known`: those that existed before it or that it made), with
    the same name, using one of the streams whose marker records the intent to create it (key
    and name): a look-alike made by hand is never taken. Each is taken once: an identical stream
    set first, then the newest."""
    names = {body.get("name") for _key, body, _ids in wanted.values()}
    seen = set(known)
    candidates: dict[Any, list[Mapping[str, Any]]] = defaultdict(list)
    for broadcast in listing:
        if broadcast.get("name") in names and int(broadcast["id"]) not in seen:
            candidates[broadcast.get("name")].append(broadcast)
    taken: set[int] = set()
    out: dict[int, Json] = {}
    for index, (key, body, sent_ids) in sorted(wanted.items()):
        ids = set(sent_ids)
        evidence = ids & set(intents.get((key, str(body.get("name"))), ()))
        scored = []
        for broadcast in candidates[body.get("name")]:
            uses = {int(s) for s in broadcast.get("stream_ids") or []}
            if int(broadcast["id"]) not in taken and evidence & uses:
                scored.append(((uses == ids, int(broadcast["id"])), broadcast))
        if scored:
            _score, match = max(scored, key=lambda pair: pair[0])
            taken.add(int(match["id"]))
            out[index] = dict(match)
    return out
