"""Helpers for the review scenarios: the account as a user would read it."""

from __future__ import annotations

import json
from typing import Any

from reconciler.lock.record import is_lock_stream
from reconciler.model.marker import LOCK_KEY, decode_entity_data


def mutating(sim: Any) -> list[str]:
    """Every non-GET request since the last `clear_log` but the lock's own create, refresh and
    release (their bodies carry the lock record), as 'METHOD path'."""
    return [
        f"{e['method']} {e['path']}"
        for e in sim.requests()
        if e["method"] != "GET" and LOCK_KEY not in json.dumps(e.get("body"))
    ]


def streams(api: Any) -> list[dict[str, Any]]:
    """The account's streams, the lock's trail aside (see docs/safety.md, "The apply lock")."""
    return [s for s in api.list_streams() if not is_lock_stream(s)]


def entity(stream: dict[str, Any]) -> Any:
    raw = stream.get("client_entity_data")
    return json.loads(raw) if raw else None


def owned(api: Any, set_name: str) -> dict[str, dict[str, Any]]:
    """The streams of one set by key."""
    found = {}
    for stream in api.list_streams():
        marker = decode_entity_data(stream.get("client_entity_data")).marker
        if marker is not None and marker.set_name == set_name:
            found[marker.key] = stream
    return found


def marker_broadcasts(stream: dict[str, Any]) -> dict[str, int]:
    marker = decode_entity_data(stream.get("client_entity_data")).marker
    assert marker is not None
    return dict(marker.broadcasts)


def converged(cli: Any, sim: Any, path: Any) -> None:
    """plan says no changes, and apply sends zero mutating requests (invariant 3)."""
    sim.clear_log()
    shown = cli("plan", "--detailed-exitcode", path)
    assert shown.exit_code == 0, shown.output
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert mutating(sim) == []
