"""Issue 9 item 8 (first half): a broadcast sweep that misses an id our markers record is an
incomplete read unless the broadcast is really gone. A server that answers `[]` for page 2 of
the broadcasts makes every run stop before planning (exit 1, nothing written); a broadcast
deleted by hand is confirmed gone with one GET and its marker entry repaired (exit 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from cli_harness import Invoke

from reconciler.model.marker import decode_entity_data

COUNT = 30  # two pages of broadcasts (25 a page)


def _manifest(count: int) -> str:
    docs = ["kind: Settings\nname: s\n"]
    for i in range(count):
        docs.append(f"kind: Stream\nname: cam-{i:02}\nspec:\n  name: Cam {i:02}\n")
        docs.append(
            f"kind: Broadcast\nname: show-{i:02}\nspec:\n  name: Show {i:02}\n"
            f"  streams: [cam-{i:02}]\n"
        )
    return "---\n".join(docs)


class HidingPage2(httpx.BaseTransport):
    """The simulator, except that page 2 of the broadcasts answers `[]` (seen in the field)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.method == "GET"
            and request.url.path == "/streaming/broadcasts"
            and request.url.params.get("page") == "2"
        ):
            return httpx.Response(200, json=[])
        return self.inner.handle_request(request)


def _writes(sim: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sim.requests() if r["method"] != "GET"]


def _seeded(sim: Any, tmp_path: Path) -> tuple[Invoke, Path]:
    run = Invoke(sim)
    path = tmp_path / "m.yaml"
    path.write_text(_manifest(COUNT))
    first = run("apply", "--yes", path)
    assert first.exit_code == 0, first.output
    return run, path


def test_a_page_that_hides_broadcasts_stops_every_command_before_planning(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = _seeded(sim, tmp_path)
    # A declared change, so that apply would write if it planned on the short read.
    path.write_text(_manifest(COUNT).replace("name: Cam 00", "name: Cam zero"))
    before = {b["id"] for b in api.list_broadcasts()}
    run.transport = HidingPage2(sim.transport())
    sim.clear_log()

    for args in (("plan",), ("apply", "--yes")):
        result = run(*args, path)
        assert result.exit_code == 1, result.output
        assert "the listing did not return it: the listing is incomplete" in result.output
        assert "nothing was changed" in result.output
        assert "Traceback" not in result.output
    assert _writes(sim) == []
    assert {b["id"] for b in api.list_broadcasts()} == before
    # One GET confirmed the first missing id, and the read stopped there.
    gets = [r["path"] for r in sim.requests() if r["path"].startswith("/streaming/broadcasts/")]
    assert len(gets) == 2  # plan, then apply


def test_a_broadcast_deleted_by_hand_is_confirmed_gone_and_repaired(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = _seeded(sim, tmp_path)
    show = next(b for b in api.list_broadcasts() if b["name"] == "Show 07")
    api.delete_broadcast(show["id"])  # by hand
    sim.clear_log()

    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert f"/streaming/broadcasts/{show['id']}" in [r["path"] for r in sim.requests()]
    shows = [b for b in api.list_broadcasts() if b["name"] == "Show 07"]
    assert len(shows) == 1 and shows[0]["id"] != show["id"]  # created again, once
    cam = next(s for s in api.list_streams() if s["name"] == "Cam 07")
    marker = decode_entity_data(cam["client_entity_data"]).marker
    assert marker is not None and dict(marker.broadcasts) == {"show-07": shows[0]["id"]}
    assert run("plan", "--detailed-exitcode", path).exit_code == 0


def test_more_missing_ids_than_the_bound_fail_without_looking_each_up(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = _seeded(sim, tmp_path)
    for broadcast in api.list_broadcasts():
        api.delete_broadcast(broadcast["id"])  # 30 recorded ids gone at once
    sim.clear_log()
    result = run("plan", path)
    assert result.exit_code == 1, result.output
    assert "30 broadcasts that the markers of set 's' record are not in the listing" in (
        result.output
    )
    assert not [r for r in sim.requests() if r["path"].startswith("/streaming/broadcasts/")]
