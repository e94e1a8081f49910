"""A stream reused between shows, whatever way the leaving show leaves it (docs/planning.md §5):
finished, taken back to pending, deleted, released (orphan), renamed away or moved to another
stream. While the leaving show is on air its change is held, and the next show's go-live waits
for it, naming it: two shows are never live on one stream. Once the encoder is gone, one apply
runs both, the leaving show first. Through `reconciler plan/apply` on the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from cli_harness import Invoke

from reconciler.model.marker import decode_entity_data

STREAMS = """kind: Settings
name: tutorial
---
kind: Stream
name: studio-a
spec: {active: true}
---
kind: Stream
name: studio-b
spec: {active: true}
"""


def show(key: str, status: str, streams: str = "studio-a", policy: str = "") -> str:
    title = key.replace("-", " ").capitalize()
    return (
        f"---\nkind: Broadcast\nname: {key}\n{policy}"
        f"spec: {{name: {title}, status: {status}, streams: [{streams}]}}\n"
    )


LAUNCH_LIVE = show("launch-show", "live")
ENCORE = show("encore-show", "pending")
ENCORE_LIVE = show("encore-show", "live")


def stream_id(api: Any, key: str) -> int:
    for stream in api.list_streams():
        marker = decode_entity_data(stream.get("client_entity_data")).marker
        if marker is not None and marker.key == key:
            return int(stream["id"])
    raise AssertionError(f"no stream {key}")


def statuses(api: Any) -> dict[str, tuple[str, list[int]]]:
    return {b["name"]: (b["status"], b["stream_ids"]) for b in api.list_broadcasts()}


def live_on(api: Any, sid: int) -> list[str]:
    return sorted(
        b["name"] for b in api.list_broadcasts() if b["status"] == "live" and sid in b["stream_ids"]
    )


def broadcast_writes(sim: Any) -> list[str]:
    """Each write to a broadcast, as `METHOD id status` (status '' when the body sets none)."""
    out = []
    for r in sim.requests():
        if r["method"] in ("PATCH", "DELETE") and r["path"].startswith("/streaming/broadcasts/"):
            body = r["body"] or {}
            status = (body.get("broadcast") or body).get("status", "")
            out.append(f"{r['method']} {r['path'].rsplit('/', 1)[1]} {status}".strip())
    return out


def on_air(sim: Any, api: Any, run: Invoke, path: Path, launch: str = LAUNCH_LIVE) -> int:
    """launch-show live and encore-show pending on studio-a, an encoder pushing to studio-a."""
    path.write_text(STREAMS + launch + ENCORE)
    first = run("apply", "--yes", path)
    assert first.exit_code == 0, first.output
    sid = stream_id(api, "studio-a")
    sim.connect(sid)
    assert live_on(api, sid) == ["Launch show"]
    return sid


def ids_by_name(api: Any) -> dict[str, int]:
    return {b["name"]: b["id"] for b in api.list_broadcasts()}


def held_then_handed_over(
    sim: Any, api: Any, run: Invoke, path: Path, sid: int, waits_for: str
) -> tuple[str, str]:
    """Apply while studio-a is on air (held: nothing written to a broadcast, launch-show alone
    live on it), then once its encoder is gone (exit 0, encore-show alone live on it, the next
    plan empty). Returns both apply outputs."""
    launch = ids_by_name(api)["Launch show"]
    planned = run("plan", "--detailed-exitcode", path)
    assert planned.exit_code == 2, planned.output
    go_live = next(line for line in planned.stdout.splitlines() if "encore-show" in line)
    assert go_live.startswith("! held:"), planned.stdout
    assert f"waits for {waits_for}, which is held: broadcast 'launch-show' (id {launch})" in (
        go_live
    )
    sim.clear_log()
    held = run("apply", "--yes", path)
    assert held.exit_code == 3, held.output
    assert "broadcast encore-show" in held.output and "status pending -> live" in held.output
    assert [w for w in broadcast_writes(sim) if not w.startswith("PATCH " + str(launch))] == []
    assert live_on(api, sid) == ["Launch show"]

    sim.disconnect(sid)  # the launch show is over
    sim.clear_log()
    done = run("apply", "--yes", path)
    assert done.exit_code == 0, done.output
    assert live_on(api, sid) == ["Encore show"]
    again = run("plan", "--detailed-exitcode", path)
    assert again.exit_code == 0, again.output
    return held.output, done.output


def test_a_finished_show_hands_over(sim: Any, api: Any, tmp_path: Path) -> None:
    """The documented way, unchanged: the finish is held, the go-live waits for it."""
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    path.write_text(STREAMS + show("launch-show", "finished") + ENCORE_LIVE)
    held_then_handed_over(sim, api, run, path, sid, "broadcast/launch-show/set_status")
    assert statuses(api)["Launch show"] == ("finished", [sid])


def test_a_deleted_live_show_finishes_before_the_next_goes_live(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """The explorer's report: launch-show removed from the manifests, encore-show set live. The
    delete was held and encore-show went live beside it: two live shows on stream studio-a."""
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    launch = ids_by_name(api)["Launch show"]
    encore = ids_by_name(api)["Encore show"]
    path.write_text(STREAMS + ENCORE_LIVE)
    plan = run("plan", path)
    assert (
        f'! held: > broadcast launch-show "Launch show" (id {launch}): status live -> finished '
        f"(broadcast 'launch-show' (id {launch}) shows stream 'studio-a' (id {sid}), which is "
        "live; finishing it waits until the stream is idle; allow with --allow-live-changes)"
    ) in plan.stdout, plan.stdout

    held_then_handed_over(sim, api, run, path, sid, "broadcast/launch-show/set_status")
    assert "Launch show" not in statuses(api)
    # The leaving show finished first, the next went live, then the delete (stage order).
    assert broadcast_writes(sim) == [
        f"PATCH {launch} finished",
        f"PATCH {encore} live",
        f"DELETE {launch}",
    ]


def test_a_renamed_live_show_does_not_go_live_beside_its_old_self(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    old = ids_by_name(api)["Launch show"]
    path.write_text(STREAMS + LAUNCH_LIVE.replace("name: launch-show", "name: launch-show-2"))
    planned = run("plan", path)
    go_live = next(
        line for line in planned.stdout.splitlines() if "launch-show-2" in line and "live" in line
    )
    assert go_live.startswith("! held:") and "waits for broadcast/launch-show/set_status" in go_live
    held = run("apply", "--yes", path)
    assert held.exit_code == 3, held.output
    assert live_on(api, sid) == ["Launch show"]

    sim.disconnect(sid)
    done = run("apply", "--yes", path)
    assert done.exit_code == 0, done.output
    (new,) = [b["id"] for b in api.list_broadcasts() if b["status"] == "live"]
    assert new != old and old not in {b["id"] for b in api.list_broadcasts()}
    assert run("plan", "--detailed-exitcode", path).exit_code == 0


def test_a_released_live_show_finishes_before_its_release(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """Released (policy.deletion: orphan), launch-show would stay live in the account beside
    encore-show: it finishes first, then is released (kept, finished, no longer ours)."""
    run, path = Invoke(sim), tmp_path / "set.yaml"
    orphan = show("launch-show", "live", policy="policy: {deletion: orphan}\n")
    sid = on_air(sim, api, run, path, launch=orphan)
    launch = ids_by_name(api)["Launch show"]
    path.write_text(STREAMS + ENCORE_LIVE)
    planned = run("plan", path)
    release = next(line for line in planned.stdout.splitlines() if ": orphan" in line)
    assert release.startswith("! held:") and "waits for broadcast/launch-show/set_status" in release
    held, _done = held_then_handed_over(
        sim, api, run, path, sid, "broadcast/launch-show/set_status"
    )
    assert f'broadcast launch-show "Launch show" (id {launch}): orphan' in held
    assert statuses(api)["Launch show"] == ("finished", [sid])  # kept, finished
    marker = decode_entity_data(api.get_stream(sid)["client_entity_data"]).marker
    assert marker is not None and launch not in marker.broadcasts.values()  # released


def test_a_live_show_moved_away_leaves_before_the_next_goes_live(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    path.write_text(STREAMS + show("launch-show", "live", streams="studio-b") + ENCORE_LIVE)
    held_then_handed_over(sim, api, run, path, sid, "broadcast/launch-show/update")
    assert statuses(api)["Launch show"] == ("live", [stream_id(api, "studio-b")])


def test_a_live_show_taken_back_to_pending_leaves_before_the_next_goes_live(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    path.write_text(STREAMS + show("launch-show", "pending") + ENCORE_LIVE)
    held_then_handed_over(sim, api, run, path, sid, "broadcast/launch-show/set_status")
    assert statuses(api)["Launch show"] == ("pending", [sid])


def test_with_the_flag_both_go_through_leaving_show_first(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    launch, encore = ids_by_name(api)["Launch show"], ids_by_name(api)["Encore show"]
    path.write_text(STREAMS + ENCORE_LIVE)
    planned = run("plan", "--allow-live-changes", path)
    assert (
        "# removed from the manifests; it finishes before its delete, since broadcast "
        "'encore-show' goes up on stream 'studio-a' (handover)"
    ) in planned.stdout, planned.stdout
    sim.clear_log()
    forced = run("apply", "--yes", "--allow-live-changes", path)
    assert forced.exit_code == 0, forced.output
    assert broadcast_writes(sim) == [
        f"PATCH {launch} finished",
        f"PATCH {encore} live",
        f"DELETE {launch}",
    ]
    assert live_on(api, sid) == ["Encore show"]


class ConnectAtFirstWrite:
    """Connects an encoder to studio-a at the first request about one broadcast or stream (the
    re-check just before a write): after the read that planned under the lock."""

    def __init__(self, sim: Any, sid: int) -> None:
        self.sim, self.sid, self.done = sim, sid, False

    def __call__(self, request: httpx.Request) -> None:
        single = request.url.path.rsplit("/", 1)[-1].isdigit() and request.method != "POST"
        if single and not self.done:
            self.done = True
            self.sim.connect(self.sid)


def test_an_encoder_back_mid_apply_holds_the_leaving_show_and_the_next_waits(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """Apply's re-check at the moment of the write has the same answer to "which show is
    leaving": the finish is held there, and the go-live (which depends on it) is skipped."""
    from tests.apply.apply_support import Hooked

    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    sim.disconnect(sid)  # idle when planned
    path.write_text(STREAMS + ENCORE_LIVE)
    assert "0 held" in run("plan", path).stdout
    sim.clear_log()
    run.transport = Hooked(sim, ConnectAtFirstWrite(sim, sid))
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 3, applied.output
    assert "on air when re-read just before the write: broadcast 'launch-show'" in applied.output
    assert live_on(api, sid) == ["Launch show"]
    assert statuses(api)["Encore show"][0] == "pending"
    assert broadcast_writes(sim) == []


def test_with_a_drop_grace_a_fresh_drop_holds_the_handover_until_it_is_over(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    """`--drop-grace`: an encoder that dropped moments ago may come back (an interruption):
    the finish is held like on air, and the go-live waits; the same apply once the stream
    stayed down for the grace hands over. Without the flag the drop ends the show at once."""
    run, path = Invoke(sim), tmp_path / "set.yaml"
    sid = on_air(sim, api, run, path)
    path.write_text(STREAMS + show("launch-show", "finished") + ENCORE_LIVE)
    sim.disconnect(sid)
    sim.advance(5)
    planned = run("plan", "--detailed-exitcode", "--drop-grace", "30", path)
    assert planned.exit_code == 2, planned.output
    assert (
        "stream 'Studio a' (id " not in planned.stdout  # named by its key
    )
    finish = next(line for line in planned.stdout.splitlines() if "launch-show" in line)
    assert finish.startswith("! held:"), planned.stdout
    assert "lost its encoder 5 s ago (within the drop grace: maybe an interruption)" in finish
    sim.clear_log()
    held = run("apply", "--yes", "--drop-grace", "30", path)
    assert held.exit_code == 3, held.output
    assert broadcast_writes(sim) == []
    assert live_on(api, sid) == ["Launch show"]

    sim.advance(30)  # 35 s down: over the grace
    done = run("apply", "--yes", "--drop-grace", "30", path)
    assert done.exit_code == 0, done.output
    assert live_on(api, sid) == ["Encore show"]
    assert statuses(api)["Launch show"][0] == "finished"
