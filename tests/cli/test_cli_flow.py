"""plan and apply through the real command line on the example manifests: the first apply
creates everything, the second changes nothing and sends zero mutating requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.marker import decode_entity_data


def mutating(sim: Any) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sim.requests() if e["method"] != "GET"]


def test_apply_creates_everything_then_converges(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    first = invoke("apply", "--yes", manifests)
    assert first.exit_code == 0, first.output
    assert "Plan: 3 to create, 0 to update, 0 to delete" in first.stdout
    assert "Apply: " in first.stdout and "0 failed" in first.stdout
    streams = [s for s in api.list_streams() if not s["name"].startswith("reconciler-lock")]
    (studio,) = streams
    marker = decode_entity_data(studio["client_entity_data"]).marker
    assert marker is not None and (marker.set_name, marker.key) == ("tutorial", "studio-a")
    assert studio["name"] == "Studio A" and studio["active"] is True
    broadcasts = {b["name"]: b for b in api.list_broadcasts()}
    assert set(broadcasts) == {"Launch show", "Encore show"}
    assert marker.broadcasts == {
        "launch-show": broadcasts["Launch show"]["id"],
        "encore-show": broadcasts["Encore show"]["id"],
    }

    sim.clear_log()
    again = invoke("plan", "--detailed-exitcode", manifests)
    assert again.exit_code == 0, again.output
    assert again.stdout.endswith("\nNo changes. The account matches the manifests.\n")
    assert (
        "Warning: broadcast 'launch-show' is declared live; no encoder has connected to its "
        "stream(s) 'studio-a' yet" in again.stdout
    )

    second = invoke("apply", "--yes", manifests)
    assert second.exit_code == 0, second.output
    assert mutating(sim) == []
    assert "No changes." in second.stdout
