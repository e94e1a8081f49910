"""Issue 9 item 4: a human's edit of their own keys in `client_entity_data`, made between the
plan's read and our marker write, is kept: apply re-reads the stream (one GET) just before a
marker PATCH and writes our marker beside the user's keys as they are now. Through the real
`reconciler apply` on the simulator, with a transport that makes the human's edit mid-apply."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from cli_harness import Invoke

from reconciler.model.marker import encode_entity_data
from tests.apply.apply_support import Hooked, calls, human_rewrites_own_keys, markers

STREAM = (
    "kind: Settings\nname: s\n---\nkind: Stream\nname: cam\nspec:\n  active: false\n"
    "  dvr_enabled: {dvr}\n"
)
SHOW = "---\nkind: Broadcast\nname: show\nspec:\n  status: pending\n  streams: [cam]\n"
OBJECT = re.compile(r"/streaming/streams/(\d+)$")


class HumanEdit:
    """Just before apply writes our marker on stream `sid` (at its re-read GET, or at the marker
    PATCH itself), a human rewrites their own keys in its client_entity_data (read, change,
    write: our marker stays)."""

    def __init__(self, sim: Any, sid: int, user: dict[str, Any]) -> None:
        self.sim, self.sid, self.user, self.done = sim, sid, user, False

    def __call__(self, request: httpx.Request) -> None:
        found = OBJECT.search(request.url.path)
        if self.done or not found or int(found[1]) != self.sid:
            return
        if request.method != "GET" and b"client_entity_data" not in request.content:
            return
        self.done = True
        human_rewrites_own_keys(self.sim, self.sid, self.user)


def test_a_users_concurrent_edit_is_kept_beside_our_marker(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(STREAM.format(dvr="false"))
    assert run("apply", "--yes", path).exit_code == 0
    cam, data = markers(api)["cam"]
    api.update_stream(  # the user's own keys, not declared in the manifests
        cam["id"],
        {"name": "cam", "client_entity_data": encode_entity_data(data.marker, {"team": "news"})},
    )

    # A broadcast to record and a declared field: marker writes on the stream.
    path.write_text(STREAM.format(dvr="true") + SHOW)
    edited = {"team": "sports", "owner": "ana"}
    run.transport = Hooked(sim, HumanEdit(sim, cam["id"], edited))
    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output

    after, data = markers(api)["cam"]
    assert data.user_data == edited  # the human's edit survived
    (show,) = api.list_broadcasts()
    assert dict(data.marker.broadcasts) == {"show": show["id"]} and not data.marker.intents
    assert after["dvr_enabled"] is True
    # One re-read per marker write (the human's edit is a GET and a marker PATCH too).
    gets = calls(sim, "GET", f"/streams/{cam['id']}")
    patches = calls(sim, "PATCH", f"/streams/{cam['id']}")
    marker_patches = [p for p in patches if "client_entity_data" in p["body"]["stream"]]
    assert len(gets) == len(marker_patches) == 3  # the human's; the intent; the broadcast id
    assert all(
        json.loads(p["body"]["stream"]["client_entity_data"])["owner"] == "ana"
        for p in marker_patches
    )
