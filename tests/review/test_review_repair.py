"""Repairs of hand edits, end to end: a stream or a broadcast deleted by hand, drift on declared
and undeclared fields (invariant 3), and a converged apply after each."""

from __future__ import annotations

import json
from typing import Any

from review_support import converged, marker_broadcasts, mutating, owned

TEXT = """kind: Settings
name: prod
---
kind: Stream
name: main
spec: {active: true, dvr_enabled: true}
---
kind: Stream
name: backup
spec: {active: true}
---
kind: Broadcast
name: show
spec: {name: Show, status: pending, streams: [main, backup], pending_message: soon}
"""


def test_a_stream_deleted_by_hand_is_recreated_and_the_broadcast_repaired(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(TEXT)
    assert cli("apply", "--yes", path).exit_code == 0
    ours = owned(api, "prod")
    (show,) = api.list_broadcasts()
    api.delete_stream(ours["backup"]["id"])

    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    now = owned(api, "prod")
    assert now["backup"]["id"] != ours["backup"]["id"]
    assert now["main"]["id"] == ours["main"]["id"]
    (after,) = api.list_broadcasts()
    assert after["id"] == show["id"]
    assert sorted(after["stream_ids"]) == sorted([now["main"]["id"], now["backup"]["id"]])
    assert marker_broadcasts(now["backup"]) == {"show": show["id"]}
    assert marker_broadcasts(now["main"]) == {"show": show["id"]}
    converged(cli, sim, path)


def test_a_broadcast_deleted_by_hand_is_recreated_once_and_recorded(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(TEXT)
    assert cli("apply", "--yes", path).exit_code == 0
    (show,) = api.list_broadcasts()
    api.delete_broadcast(show["id"])

    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    creates = [m for m in mutating(sim) if m == "POST /streaming/broadcasts"]
    assert len(creates) == 1
    (again,) = api.list_broadcasts()
    assert again["id"] != show["id"]
    ours = owned(api, "prod")
    assert sorted(again["stream_ids"]) == sorted(s["id"] for s in ours.values())
    for stream in ours.values():
        assert marker_broadcasts(stream) == {"show": again["id"]}
    converged(cli, sim, path)
    assert len(api.list_broadcasts()) == 1


def test_drift_on_undeclared_fields_is_never_reverted(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(TEXT)
    assert cli("apply", "--yes", path).exit_code == 0
    ours = owned(api, "prod")
    (show,) = api.list_broadcasts()
    data = json.loads(ours["main"]["client_entity_data"])
    api.update_stream(
        ours["main"]["id"],
        {
            "name": "main",
            "dvr_duration": 600,
            "client_user_id": 77,
            "client_entity_data": json.dumps({**data, "team": "news"}),
        },
    )
    api.update_broadcast(show["id"], {"name": "Show", "share_url": "https://example.org/x"})
    converged(cli, sim, path)
    main = api.get_stream(ours["main"]["id"])
    assert main["dvr_duration"] == 600 and main["client_user_id"] == 77
    assert json.loads(main["client_entity_data"])["team"] == "news"
    assert api.get_broadcast(show["id"])["share_url"] == "https://example.org/x"

    # declared fields drift: exactly one PATCH each, back to the manifest
    api.update_stream(ours["main"]["id"], {"name": "main", "dvr_enabled": False})
    api.update_broadcast(show["id"], {"name": "Show", "pending_message": "later"})
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    own = [m for m in mutating(sim) if "lock" not in m and not m.startswith(("POST", "DELETE"))]
    assert sorted(own) == sorted(
        [
            f"PATCH /streaming/streams/{ours['main']['id']}",
            f"PATCH /streaming/broadcasts/{show['id']}",
        ]
    )
    assert api.get_stream(ours["main"]["id"])["dvr_duration"] == 600
    converged(cli, sim, path)


def test_a_marker_removed_by_hand_is_not_taken_back(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """A user wiping client_entity_data releases the stream: the next run creates a new one and
    never touches the released stream (ownership lives in the account)."""
    path = write(TEXT)
    assert cli("apply", "--yes", path).exit_code == 0
    main = owned(api, "prod")["main"]
    api.update_stream(main["id"], {"name": "main", "client_entity_data": ""})
    before = api.get_stream(main["id"])
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert owned(api, "prod")["main"]["id"] != main["id"]
    # our broadcast now shows the new stream; the released one is never patched
    assert [m for m in mutating(sim) if m.endswith(f"/{main['id']}")] == []
    gone = {k: v for k, v in api.get_stream(main["id"]).items() if k != "broadcast_ids"}
    assert gone == {k: v for k, v in before.items() if k != "broadcast_ids"}
    converged(cli, sim, path)
