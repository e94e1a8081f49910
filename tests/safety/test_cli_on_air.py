"""The two user-visible rows of the on-air table (issue 8 item 5) through `reconciler apply` on
the simulator: a live broadcast moved to another stream, and an on-air broadcast sent back to
`pending`, are held (exit 3) and nothing is written to the broadcast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.marker import decode_entity_data

SETTINGS = "kind: Settings\nname: prod\n"


def manifests(status: str, streams: str) -> str:
    return (
        SETTINGS
        + "".join(
            f"---\nkind: Stream\nname: {k}\nspec: {{active: true}}\n" for k in ("cam", "spare")
        )
        + f"---\nkind: Broadcast\nname: show\nspec: {{status: {status}, streams: [{streams}]}}\n"
    )


def on_air_show(sim: Any, api: Any, reconcile: Any, path: Path) -> tuple[int, dict[str, Any]]:
    path.write_text(manifests("live", "cam"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    cam = next(
        s
        for s in api.list_streams()
        if (m := decode_entity_data(s.get("client_entity_data")).marker) and m.key == "cam"
    )
    sim.connect(cam["id"])
    (show,) = api.list_broadcasts()
    assert show["status"] == "live" and show["stream_ids"] == [cam["id"]]
    return cam["id"], show


def broadcast_writes(sim: Any, bid: int) -> list[str]:
    return [
        r["method"]
        for r in sim.requests()
        if r["method"] != "GET" and r["path"] == f"/streaming/broadcasts/{bid}"
    ]


def test_a_live_broadcast_moved_to_another_stream_is_held(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    cam_id, show = on_air_show(sim, api, reconcile, path)
    path.write_text(manifests("live", "spare"))
    sim.clear_log()
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 3, run.stdout + run.stderr
    assert (
        f"broadcast 'show' (id {show['id']}) shows stream 'cam' (id {cam_id}), which is live; "
        "moving it off that stream waits until the stream is idle" in run.stdout
    )
    assert broadcast_writes(sim, show["id"]) == []
    assert api.list_broadcasts()[0]["stream_ids"] == [cam_id]


def test_an_on_air_broadcast_back_to_pending_is_held(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    _cam_id, show = on_air_show(sim, api, reconcile, path)
    path.write_text(manifests("pending", "cam"))
    sim.clear_log()
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 3, run.stdout + run.stderr
    assert "taking it back to pending waits until the stream is idle" in run.stdout
    assert broadcast_writes(sim, show["id"]) == []
    assert api.list_broadcasts()[0]["status"] == "live"
