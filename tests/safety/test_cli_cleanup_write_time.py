"""A `Cleanup` deletion decided at plan time is checked again at the moment of its write, through
the real `reconciler apply` on the simulator: a stream that went on air, or that a broadcast
started using, between the plan and the write is kept, and so are its recordings (a stream's
recordings follow the stream's fate: never deleted while the stream itself is kept)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_harness import Invoke

from tests.apply.apply_support import Hooked

DAY = 86_400
MANIFESTS = (
    "kind: Settings\nname: prod\n---\nkind: Stream\nname: cam\n"
    "---\nkind: Cleanup\nname: stale\nspec:\n  idle_for: 30d\n  name_pattern: 'olduser-*'\n"
)
WITH_RECORDINGS = MANIFESTS + "  delete_recordings: true\n"
LOCK_CREATE = ("POST", "/streaming/streams")  # the apply lock: after the shown plan was read
ONE_OBJECT = re.compile(r"^/streaming/(streams|videos)/(\d+)$")


class Once:
    """Calls `act` once, before the first request that `when(request)` accepts is answered."""

    def __init__(self, when: Callable[[httpx.Request], bool], act: Callable[[], None]) -> None:
        self.when, self.act, self.done = when, act, False

    def __call__(self, request: httpx.Request) -> None:
        if not self.done and self.when(request):
            self.done = True
            self.act()


def at_the_prompt(request: httpx.Request) -> bool:
    """The run takes its lock: the plan it shows (and applies) is already read."""
    return (request.method, request.url.path) == LOCK_CREATE


def about(ids: set[int]) -> Callable[[httpx.Request], bool]:
    """Mid-apply: the first request about one of these streams or videos (a re-read or a write)."""

    def accepts(request: httpx.Request) -> bool:
        found = ONE_OBJECT.match(request.url.path)
        return found is not None and int(found.group(2)) in ids

    return accepts


def stale_user_stream(sim: Any, api: Any, name: str, *, recorded: bool) -> tuple[int, int | None]:
    """An unmanaged stream (and one recording of it) idle for 40 days by the platform's clock."""
    sid = int(api.create_stream({"name": name, "client_user_id": 9, "active": True})["id"])
    video = None
    if recorded:
        sim.connect(sid)
        api.start_recording(sid)
        sim.advance(120)
        video = int(api.stop_recording(sid)["id"])
        sim.disconnect(sid)
    return sid, video


@pytest.mark.parametrize("moment", ["at the prompt", "mid-apply"])
def test_an_encoder_connecting_after_the_plan_keeps_the_stream_and_its_recordings(
    moment: str, sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(WITH_RECORDINGS)
    sid, video = stale_user_stream(sim, api, "olduser-9", recorded=True)
    assert video is not None
    sim.advance(40 * DAY)
    shown = run("plan", "--detailed-exitcode", path)
    assert shown.exit_code == 2, shown.output
    assert f"- video #{video}" in shown.output and f"- stream #{sid}" in shown.output

    when = at_the_prompt if moment == "at the prompt" else about({sid, video})
    run.transport = Hooked(sim, Once(when, lambda: sim.connect(sid)))
    sim.clear_log()
    applied = run("apply", "--yes", path)

    assert applied.exit_code == 3, applied.output
    assert (
        f'held     - stream #{sid} "olduser-9" (id {sid}): cleanup: on air when re-read just '
        f"before the write: stream 'olduser-9' (id {sid}) is live; deleting it waits until it "
        "is idle"
    ) in applied.output
    assert f'skipped  - video #{video} "Stream Record: olduser-9, ' in applied.output
    assert f"(id {video}): delete recording: stream/#{sid}/cleanup is held" in applied.output
    assert [v["id"] for v in api.list_videos(stream_id=sid)] == [video]
    assert sid in {s["id"] for s in api.list_streams()}
    assert not [r for r in sim.requests() if r["method"] == "DELETE" and "/videos/" in r["path"]]

    sim.disconnect(sid)  # the encoder leaves; stale again later, both go, the stream first
    sim.advance(40 * DAY)
    run.transport = sim.transport()
    sim.clear_log()
    again = run("apply", "--yes", path)
    assert again.exit_code == 0, again.output
    deleted = [r["path"] for r in sim.requests() if r["method"] == "DELETE"]
    assert deleted.index(f"/streaming/streams/{sid}") < deleted.index(f"/streaming/videos/{video}")
    assert api.list_videos(stream_id=sid) == []


def stale_set(
    sim: Any, api: Any, tmp_path: Path, manifests: str, name: str, *, recorded: bool
) -> tuple[Invoke, Path, tuple[int, int | None]]:
    """The CLI, the manifests written, one stale user stream 40 days idle: (run, path, ids)."""
    path = tmp_path / "set.yaml"
    path.write_text(manifests)
    ids = stale_user_stream(sim, api, name, recorded=recorded)
    sim.advance(40 * DAY)
    return Invoke(sim), path, ids


def test_a_recording_deleted_only_after_its_stream_is_gone(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """The stream's DELETE is answered before any of its recordings is deleted."""
    run, path, (sid, video) = stale_set(
        sim, api, tmp_path, WITH_RECORDINGS, "olduser-9", recorded=True
    )
    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    writes = [(r["method"], r["path"]) for r in sim.requests() if r["method"] == "DELETE"]
    assert writes.index(("DELETE", f"/streaming/streams/{sid}")) < writes.index(
        ("DELETE", f"/streaming/videos/{video}")
    )
    assert sid not in {s["id"] for s in api.list_streams()}
    assert api.list_videos(stream_id=sid) == []


def pending_broadcast_on(sim: Any, sid: int) -> Callable[[], None]:
    """Someone schedules a show on the stream, straight through the simulator's API."""

    def create() -> None:
        answer = sim.transport().handle_request(
            httpx.Request(
                "POST",
                "http://simulator.invalid/streaming/broadcasts",
                json={"broadcast": {"name": "x", "status": "pending", "stream_ids": [sid]}},
                headers={"Authorization": f"APIKey {sim.config.api_key}"},
            )
        )
        answer.read()
        assert answer.status_code == 200, answer.text

    return create


@pytest.mark.parametrize("moment", ["at the prompt", "mid-apply"])
def test_a_broadcast_scheduled_on_the_stream_after_the_plan_keeps_it(
    moment: str, sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(WITH_RECORDINGS)
    sid, video = stale_user_stream(sim, api, "olduser-10", recorded=True)
    other, _ = stale_user_stream(sim, api, "olduser-11", recorded=False)
    sim.advance(40 * DAY)
    assert f"- stream #{sid}" in run("plan", path).output

    when = at_the_prompt if moment == "at the prompt" else about({sid, other, video or 0})
    run.transport = Hooked(sim, Once(when, pending_broadcast_on(sim, sid)))
    applied = run("apply", "--yes", path)

    assert applied.exit_code == 3, applied.output
    (show,) = api.list_broadcasts()
    assert (
        f'held     - stream #{sid} "olduser-10" (id {sid}): cleanup: in use when re-read just '
        f"before the write: broadcast 'x' (id {show['id']}, pending) uses stream 'olduser-10' "
        f"(id {sid}); a stream used by a broadcast that is not finished is never cleaned up"
    ) in applied.output
    assert show["stream_ids"] == [sid]
    assert sid in {s["id"] for s in api.list_streams()}
    assert [v["id"] for v in api.list_videos(stream_id=sid)] == [video]
    assert other not in {s["id"] for s in api.list_streams()}  # the other candidate goes


def test_the_broadcasts_are_read_once_for_every_cleanup_deletion(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """One sweep of the broadcasts before the stage's deletions, not one read per stream."""
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(MANIFESTS)
    for i in range(5):
        stale_user_stream(sim, api, f"olduser-{i}", recorded=False)
    sim.advance(40 * DAY)

    def sweeps() -> int:
        return sum(
            1
            for r in sim.requests()
            if r["method"] == "GET" and r["path"].split("?")[0] == "/streaming/broadcasts"
        )

    sim.clear_log()
    assert run("plan", path).exit_code == 0
    one_sweep = sweeps()
    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    assert applied.output.count("done     - stream #") == 5
    assert sweeps() == 2 * one_sweep  # the plan's read, and the one before the deletions


def test_allowing_live_changes_never_lets_a_cleanup_take_a_stream_in_use(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`--allow-live-changes` is about encoders on air, not about shows scheduled on a stream."""
    run, path, (sid, _) = stale_set(sim, api, tmp_path, MANIFESTS, "olduser-10", recorded=False)
    run.transport = Hooked(sim, Once(at_the_prompt, pending_broadcast_on(sim, sid)))
    applied = run("apply", "--yes", "--allow-live-changes", path)
    assert applied.exit_code == 3, applied.output
    assert "cleanup: in use when re-read just before the write: broadcast 'x'" in applied.output
    assert sid in {s["id"] for s in api.list_streams()}


class BroadcastsDownAfterTheLock(httpx.BaseTransport):
    """The simulator, except that every broadcast listing after the lock is taken answers 500."""

    def __init__(self, sim: Any) -> None:
        self.inner, self.locked, self.refused = sim.transport(), False, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.locked = self.locked or at_the_prompt(request)
        if self.locked and (request.method, request.url.path) == ("GET", "/streaming/broadcasts"):
            self.refused += 1
            return httpx.Response(500, json={"status": 500, "error": "down"})
        return self.inner.handle_request(request)


def test_a_failed_read_of_the_broadcasts_deletes_nothing(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(WITH_RECORDINGS)
    sid, video = stale_user_stream(sim, api, "olduser-9", recorded=True)
    other, _ = stale_user_stream(sim, api, "olduser-8", recorded=False)
    sim.advance(40 * DAY)
    run.transport = down = BroadcastsDownAfterTheLock(sim)
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 1, applied.output
    for stream_id in (sid, other):
        assert f"(id {stream_id}): cleanup: reading the broadcasts before the write: " in (
            applied.output
        )
    assert f"delete recording: stream/#{sid}/cleanup failed" in applied.output
    assert down.refused == 1  # one sweep for the stage, not one try per stream
    assert {sid, other} <= {s["id"] for s in api.list_streams()}
    assert [v["id"] for v in api.list_videos(stream_id=sid)] == [video]


def a_short_session(sim: Any, api: Any, sid: int) -> Callable[[], None]:
    """Someone connects an encoder, records 20 s of it and disconnects: idle again, not stale."""

    def session() -> None:
        sim.connect(sid)
        api.start_recording(sid)
        sim.advance(20)
        api.stop_recording(sid)
        sim.disconnect(sid)

    return session


@pytest.mark.parametrize("moment", ["at the prompt", "mid-apply"])
def test_a_stream_used_since_the_plan_is_kept_with_its_recordings(
    moment: str, sim: Any, api: Any, tmp_path: Path
) -> None:
    """Idle at the write, but used since the plan: the Cleanup's own rule (idle for longer than
    `idle_for`, by the platform's clock) is judged again on the stream as re-read just before
    its DELETE, so the stream, its old recording and the new one all stay."""
    run, path, (sid, video) = stale_set(
        sim, api, tmp_path, WITH_RECORDINGS, "olduser-w", recorded=True
    )
    shown = run("plan", "--detailed-exitcode", path)
    assert shown.exit_code == 2, shown.output
    assert f"- stream #{sid}" in shown.output and "idle 40d (last session ended " in shown.output

    when = at_the_prompt if moment == "at the prompt" else about({sid, video or 0})
    run.transport = Hooked(sim, Once(when, a_short_session(sim, api, sid)))
    applied = run("apply", "--yes", path)

    assert applied.exit_code == 3, applied.output
    ended = api.get_stream(sid)["finished_at_primary"]
    held = re.search(
        rf'held     - stream #{sid} "olduser-w" \(id {sid}\): cleanup: in use when re-read just '
        r"before the write: used since the plan: last session ended (.+) \((\d+)s ago\); "
        r"Cleanup 'stale' takes only streams idle for more than 30d\n",
        applied.output,
    )
    assert held is not None, applied.output
    assert held.group(1) == f"{datetime.fromisoformat(ended):%Y-%m-%d %H:%M:%S} UTC"
    assert int(held.group(2)) <= 1
    assert f"(id {video}): delete recording: stream/#{sid}/cleanup is held" in applied.output
    recordings = api.list_videos(stream_id=sid)
    assert len(recordings) == 2 and video in {v["id"] for v in recordings}
    assert sid in {s["id"] for s in api.list_streams()}
    assert not [r for r in sim.requests() if r["method"] == "DELETE" and "/videos/" in r["path"]]

    sim.advance(40 * DAY)  # stale again: the stream goes, then both recordings
    run.transport = sim.transport()
    again = run("apply", "--yes", path)
    assert again.exit_code == 0, again.output
    assert sid not in {s["id"] for s in api.list_streams()}
    assert api.list_videos(stream_id=sid) == []


def test_allowing_live_changes_never_lets_a_cleanup_take_a_stream_gone_on_air(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`--allow-live-changes` lets a change disturb a declared show; a Cleanup never selects a
    stream on air, and a stream that went on air since the plan is not stale any more."""
    run, path, (sid, _) = stale_set(sim, api, tmp_path, MANIFESTS, "olduser-10", recorded=False)
    run.transport = Hooked(sim, Once(at_the_prompt, lambda: sim.connect(sid)))
    applied = run("apply", "--yes", "--allow-live-changes", path)
    assert applied.exit_code == 3, applied.output
    assert (
        f'held     - stream #{sid} "olduser-10" (id {sid}): cleanup: in use when re-read just '
        "before the write: used since the plan: an encoder is on air\n"
    ) in applied.output
    assert sid in {s["id"] for s in api.list_streams()}


def test_streams_beyond_the_cap_are_held_so_apply_never_says_it_matches(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """150 stale streams and `max_deletions: 100` exited 0 ("The account matches") with 48
    deletions in the next plan (DESIGN invariant 3: an apply that exits 0 leaves an empty plan).
    Beyond its cap a Cleanup holds, like a prune beyond its cap: exit 3, the next run goes on."""
    run = Invoke(sim)
    path = tmp_path / "set.yaml"
    path.write_text(MANIFESTS + "  max_deletions: 2\n")
    for i in range(3):
        stale_user_stream(sim, api, f"olduser-{i}", recorded=False)
    sim.advance(40 * DAY)
    first = run("apply", "--yes", path)
    assert first.exit_code == 3, first.output
    assert first.output.count("done     - stream #") == 2
    assert "held     - stream #" in first.output and "cleanup cap: Cleanup" in first.output
    assert "Held changes wait for a later run." in first.stdout
    second = run("apply", "--yes", path)
    assert second.exit_code == 0, second.output
    assert run("plan", "--detailed-exitcode", path).exit_code == 0
    assert not [s for s in api.list_streams() if s["name"].startswith("olduser-")]
