"""Issue 12: a change reads each of its streams at most once. The live re-check before a
disruptive write (invariant 5) and the re-read our marker PATCH merges beside the user's keys
(issue 9 item 4) are one GET when both concern the same stream in the same change; a stream
whose marker several changes of a stage edit is written once, from the last one's read. Pinned
from the requests `reconciler apply` sends to the simulator (logged on its transport); the user's
keys as they were at that one read are kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from cli_harness import Invoke

from reconciler.model.marker import encode_entity_data
from tests.apply.apply_support import Hooked, human_rewrites_own_keys, markers

SETTINGS = "kind: Settings\nname: s\nspec:\n  max_deletions: 100\n  max_deletion_percent: 100\n"
ONE = re.compile(r"/streaming/(streams|broadcasts)/(\d+)$")


def stream(key: str, active: bool = True) -> str:
    return f"---\nkind: Stream\nname: {key}\nspec:\n  active: {str(active).lower()}\n"


def show(key: str, status: str, *streams: str) -> str:
    return (
        f"---\nkind: Broadcast\nname: {key}\nspec:\n  name: {key}\n  status: {status}\n"
        f"  streams: [{', '.join(streams)}]\n"
    )


class Sent:
    """A hook on apply's transport: the requests apply sends about single objects, in order, as
    ('streams' | 'broadcasts', id, 'GET' | 'PATCH' | 'PATCH marker' | 'DELETE'); at apply's
    first GET of stream `edit_sid` (before it is answered) a human rewrites their own keys in its
    client_entity_data to `user` (our marker stays). The human's requests are not apply's."""

    def __init__(self, sim: Any, edit_sid: int = 0, user: dict[str, Any] | None = None) -> None:
        self.sim, self.edit_sid, self.user = sim, edit_sid, user
        self.log: list[tuple[str, int, str]] = []

    def __call__(self, request: httpx.Request) -> None:
        found = ONE.search(request.url.path)
        if not found:
            return
        kind, oid, method = found[1], int(found[2]), request.method
        if method == "PATCH" and b"client_entity_data" in request.content:
            method = "PATCH marker"
        self.log.append((kind, oid, method))
        if self.user is not None and (kind, oid, method) == ("streams", self.edit_sid, "GET"):
            human_rewrites_own_keys(self.sim, self.edit_sid, self.user)
            self.user = None

    def about(self, sid: int, bids: tuple[int, ...] = ()) -> list[str]:
        """Apply's requests about a stream (and these broadcasts), in order: 'stream GET', ..."""
        return [
            f"{kind[:-1]} {method}"
            for kind, oid, method in self.log
            if (kind, oid) == ("streams", sid) or (kind == "broadcasts" and oid in bids)
        ]


def test_deleting_broadcasts_reads_each_stream_once_per_delete(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    streams = stream("onair") + stream("quiet") + stream("pair")
    kept = stream("keep") + show("kept", "pending", "keep")  # not every broadcast is removed
    path.write_text(
        SETTINGS
        + streams
        + kept
        + show("live-show", "live", "onair")
        + show("later-show", "pending", "quiet")
        + show("pair-a", "live", "pair")
        + show("pair-b", "live", "pair")
    )
    assert run("apply", "--yes", path).exit_code == 0
    ours = markers(api)
    onair, quiet, pair = (ours[k][0]["id"] for k in ("onair", "quiet", "pair"))
    api.update_stream(  # the user's own keys beside our marker
        onair,
        {
            "name": "onair",
            "client_entity_data": encode_entity_data(ours["onair"][1].marker, {"team": "news"}),
        },
    )
    by_name = {b["name"]: b["id"] for b in api.list_broadcasts()}
    edited = {"team": "sports", "owner": "ana"}
    sent = Sent(sim, onair, edited)
    run.transport = Hooked(sim, sent)

    path.write_text(SETTINGS + streams + kept)  # four broadcasts removed: pruned
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert [b["name"] for b in api.list_broadcasts()] == ["kept"]

    # A live broadcast: its stream re-read once, just before the DELETE (is it on air?); that
    # read is what the marker PATCH merges beside (the human's edit at that read is kept).
    assert sent.about(onair, (by_name["live-show"],)) == [
        "stream GET",
        "broadcast DELETE",
        "stream PATCH marker",
    ]
    # A pending one deletes without a re-check: the stream is read once, for the marker merge.
    assert sent.about(quiet, (by_name["later-show"],)) == [
        "broadcast DELETE",
        "stream GET",
        "stream PATCH marker",
    ]
    # Two live broadcasts of one stream: one re-read per delete, one marker PATCH for both.
    pair_log = sent.about(pair)
    assert pair_log.count("stream GET") == 2 and pair_log[-1] == "stream PATCH marker", pair_log
    assert len(pair_log) == 3
    for key in ("onair", "quiet", "pair"):
        assert dict(markers(api)[key][1].marker.broadcasts) == {}
    assert markers(api)["onair"][1].user_data == edited


def test_a_deactivation_carrying_marker_edits_reads_its_stream_once(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """The broadcast moves off `cam` (a marker edit that rides with cam's next PATCH), and cam is
    deactivated (a disruptive write: re-read first). One GET serves both."""
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(SETTINGS + stream("cam") + stream("spare") + show("show", "pending", "cam"))
    assert run("apply", "--yes", path).exit_code == 0
    cam = markers(api)["cam"][0]["id"]

    path.write_text(
        SETTINGS + stream("cam", active=False) + stream("spare") + show("show", "pending", "spare")
    )
    sent = Sent(sim)
    run.transport = Hooked(sim, sent)
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert sent.about(cam) == ["stream GET", "stream PATCH marker"]
    after, data = markers(api)["cam"]
    assert after["active"] is False and dict(data.marker.broadcasts) == {}


class RefuseMarkerWrite(httpx.BaseTransport):
    """The simulator, except that the marker PATCHes of stream `sid` answer 503."""

    def __init__(self, sim: Any, sid: int) -> None:
        self.inner, self.sid, self.refused = sim.transport(), sid, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        found = ONE.search(request.url.path)
        marker = request.method == "PATCH" and b"client_entity_data" in request.content
        if marker and found and int(found[2]) == self.sid:
            self.refused += 1
            return httpx.Response(503, json={"status": 503, "error": "Service Unavailable"})
        return self.inner.handle_request(request)


def test_a_marker_write_that_fails_at_the_delete_is_reported_not_repeated(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """The delete is done, its marker write fails: the delete is reported failed with why, the
    write is not tried again after the stage, and the next run repairs the marker."""
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    kept = stream("keep") + show("kept", "pending", "keep")
    path.write_text(SETTINGS + stream("cam") + kept + show("show", "live", "cam"))
    assert run("apply", "--yes", path).exit_code == 0
    cam = markers(api)["cam"][0]["id"]

    path.write_text(SETTINGS + stream("cam") + kept)
    refusing = RefuseMarkerWrite(sim, cam)
    run.transport = refusing
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 1, applied.output
    assert f"done, but recording it in the marker of stream #{cam} failed" in applied.output
    assert refusing.refused == 1
    assert [b["name"] for b in api.list_broadcasts()] == ["kept"]

    run.transport = sim.transport()
    assert run("apply", "--yes", path).exit_code == 0
    assert dict(markers(api)["cam"][1].marker.broadcasts) == {}
    assert run("plan", "--detailed-exitcode", path).exit_code == 0
