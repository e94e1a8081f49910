"""`policy.go_live: when_on_air` through `reconciler plan/apply` on the simulator: the broadcast
waits (plan empty, a note) until the encoder connects, then the next apply sets it live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOTE = (
    "broadcast 'show' waits for an encoder on its stream(s) 'cam' (go_live: when_on_air): "
    "pending until one is on air"
)

SET = """\
kind: Settings
name: prod
---
kind: Stream
name: cam
spec: {active: true}
---
kind: Broadcast
name: show
policy: {go_live: when_on_air}
spec: {status: live, streams: [cam]}
"""


def test_through_the_cli_the_encoder_connecting_sets_it_live(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(SET)
    assert reconcile("apply", "--yes", path).exit_code == 0
    (show,) = api.list_broadcasts()
    assert show["status"] == "pending"
    waiting = reconcile("plan", "--detailed-exitcode", path)
    assert waiting.exit_code == 0, waiting.stdout
    assert NOTE in waiting.stdout

    sim.connect(show["stream_ids"][0])
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 2
    assert reconcile("apply", "--yes", path).exit_code == 0
    assert api.list_broadcasts()[0]["status"] == "live"
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0


def test_an_unknown_go_live_value_is_a_clear_error(reconcile: Any, tmp_path: Path) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(SET.replace("when_on_air", "asap"))
    run = reconcile("validate", path)
    assert run.exit_code == 1
    assert f"{path}:10" in run.output and "go_live" in run.output and "when_on_air" in run.output
