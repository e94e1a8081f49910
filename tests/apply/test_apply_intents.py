"""Issue 9 item 1: an interrupted broadcast create is recovered by name only where this set
recorded the intent to create it in a stream marker before its POST; a broadcast made by hand
with the same name on a managed stream is never taken over (nor pruned later). Through the real
`reconciler apply` on the simulator, asserted from its state and request log."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from cli_harness import Invoke

from reconciler.model.marker import encode_entity_data
from tests.apply.apply_support import calls, markers, sent

STREAM = "kind: Settings\nname: s\n---\nkind: Stream\nname: cam\nspec:\n  active: false\n"
TOWN_HALL = (
    "---\nkind: Broadcast\nname: town-hall\nspec:\n  name: Town hall\n  status: pending\n"
    "  streams: [cam]\n"
)


def test_a_hand_made_broadcast_with_the_declared_name_is_not_taken_over(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(STREAM)
    assert run("apply", "--yes", path).exit_code == 0
    cam, _data = markers(api)["cam"]
    hand_made = api.create_broadcast(
        {"name": "Town hall", "status": "pending", "stream_ids": [cam["id"]]}
    )

    path.write_text(STREAM + TOWN_HALL)
    shown = run("plan", path)
    assert "found from an interrupted run" not in shown.output
    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output

    assert calls(sim, "PATCH", f"/broadcasts/{hand_made['id']}") == []
    (ours,) = [b for b in api.list_broadcasts() if b["id"] != hand_made["id"]]
    assert ours["name"] == "Town hall" and ours["stream_ids"] == [cam["id"]]
    assert api.get_broadcast(hand_made["id"])["stream_ids"] == [cam["id"]]
    _cam, data = markers(api)["cam"]
    assert dict(data.marker.broadcasts) == {"town-hall": ours["id"]}
    assert dict(data.marker.intents) == {}  # cleared with the id, in the same write
    # The intent was written before the POST, in one marker write.
    first_patch, _record = calls(sim, "PATCH", f"/streams/{cam['id']}")
    written = json.loads(sent(first_patch)["client_entity_data"])
    assert written["reconciler"]["creating"] == {"town-hall": "Town hall"}
    assert sim.requests().index(first_patch) < sim.requests().index(
        calls(sim, "POST", "/streaming/broadcasts")[0]
    )
    assert run("plan", "--detailed-exitcode", path).exit_code == 0

    path.write_text(STREAM)  # the declared one leaves: only ours is pruned
    assert run("apply", "--yes", "--allow-empty-prune", path).exit_code == 0
    assert [b["id"] for b in api.list_broadcasts()] == [hand_made["id"]]


def test_an_interrupted_create_with_its_intent_is_recovered_not_created_again(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(STREAM)
    assert run("apply", "--yes", path).exit_code == 0
    cam, data = markers(api)["cam"]
    # What a run killed right after its POST leaves: the intent, and an unrecorded broadcast.
    marker = replace(data.marker, intents={"town-hall": "Town hall"})
    api.update_stream(
        cam["id"], {"name": cam["name"], "client_entity_data": encode_entity_data(marker, None)}
    )
    made = api.create_broadcast(
        {"name": "Town hall", "status": "pending", "stream_ids": [cam["id"]]}
    )

    path.write_text(STREAM + TOWN_HALL)
    shown = run("plan", path)
    assert "found from an interrupted run" in shown.output
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert [b["id"] for b in api.list_broadcasts()] == [made["id"]]
    _cam, data = markers(api)["cam"]
    assert dict(data.marker.broadcasts) == {"town-hall": made["id"]}
    assert dict(data.marker.intents) == {}
    assert run("plan", "--detailed-exitcode", path).exit_code == 0
