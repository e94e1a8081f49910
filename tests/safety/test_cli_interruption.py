"""The tutorial's "Interruption during streaming", end to end on the simulator: with
`pause_on_interruption` the broadcast goes paused while its stream is down and back to live when
it returns; without it the plan only warns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.marker import decode_entity_data

SHOW = """kind: Settings
name: prod
---
kind: Stream
name: cam
spec: {{active: true}}
---
kind: Broadcast
name: show
policy: {{pause_on_interruption: {policy}}}
spec: {{status: live, streams: [cam]}}
"""


def cam_id(api: Any) -> int:
    for stream in api.list_streams():
        marker = decode_entity_data(stream.get("client_entity_data")).marker
        if marker is not None and marker.key == "cam":
            return int(stream["id"])
    raise AssertionError("cam not found")


def show_status(api: Any) -> str:
    (show,) = api.list_broadcasts()
    return str(show["status"])


def test_pause_while_the_stream_is_down_and_live_again_when_it_returns(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW.format(policy="true"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    cam = cam_id(api)
    sim.connect(cam)
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0

    sim.disconnect(cam)  # the encoder drops
    plan = reconcile("plan", "--detailed-exitcode", path)
    assert plan.exit_code == 2
    assert plan.stdout.startswith(
        "> broadcast show (id 5000001): status live -> paused\n"
        "      # stream(s) down: interruption\n"
    )
    assert reconcile("apply", "--yes", path).exit_code == 0
    assert show_status(api) == "paused"
    # Still down: no flapping, nothing to do.
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0

    sim.connect(cam)  # the encoder is back
    back = reconcile("apply", "--yes", path)
    assert back.exit_code == 0, back.stdout + back.stderr
    assert "stream(s) back: end of interruption" in back.stdout
    assert show_status(api) == "live"


def test_without_the_policy_an_interruption_is_only_a_warning(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW.format(policy="false"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    cam = cam_id(api)
    sim.connect(cam)
    sim.disconnect(cam)
    sim.clear_log()
    plan = reconcile("plan", "--detailed-exitcode", path)
    assert plan.exit_code == 0
    assert "Warning: broadcast 'show' is live but its stream(s) 'cam' are down" in plan.stdout
    assert show_status(api) == "live"
    assert [r for r in sim.requests() if r["method"] != "GET"] == []
