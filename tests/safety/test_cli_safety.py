"""Each guard holding, end to end through `reconciler plan/apply` on the simulator, and the
tutorial's "Reuse of a stream" with a region change that waits for the stream to go idle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model.marker import decode_entity_data

SETTINGS = "kind: Settings\nname: prod\n"


def streams_doc(*keys: str, extra: str = "") -> str:
    return SETTINGS + "".join(f"---\nkind: Stream\nname: {k}\n{extra}" for k in keys)


def ours(api: Any) -> dict[str, dict[str, Any]]:
    found = {}
    for stream in api.list_streams():
        marker = decode_entity_data(stream.get("client_entity_data")).marker
        if marker is not None:
            found[marker.key] = stream
    return found


def deletes(sim: Any, ids: set[int] | None = None) -> list[str]:
    """DELETE paths, of the given object ids only (the run's own lock stream is deleted too)."""
    paths = [r["path"] for r in sim.requests() if r["method"] == "DELETE"]
    return [p for p in paths if ids is None or int(p.rsplit("/", 1)[1]) in ids]


def test_a_live_stream_survives_removal_from_the_manifests(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(streams_doc("cam", "spare", extra="spec: {active: true}\n"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    cam = ours(api)["cam"]
    sim.connect(cam["id"])

    path.write_text(streams_doc("spare", extra="spec: {active: true}\n"))
    shown = reconcile("plan", "--detailed-exitcode", path)
    assert shown.exit_code == 2
    assert (
        f"stream 'cam' (id {cam['id']}) is live; deleting it waits until it is idle; allow with "
        "--allow-live-changes)" in shown.stdout  # no document is left to carry a policy
    )
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 3, run.stdout + run.stderr
    assert "1 held" in run.stdout
    assert cam["id"] in {s["id"] for s in api.list_streams()}

    forced = reconcile("apply", "--yes", "--allow-live-changes", path)
    assert forced.exit_code == 0, forced.stdout + forced.stderr
    assert cam["id"] not in {s["id"] for s in api.list_streams()}


def test_an_empty_manifest_set_deletes_nothing(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(streams_doc("a", "b"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    path.write_text(SETTINGS)
    sim.clear_log()
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 3, run.stdout + run.stderr  # held back by a safety rule: cron alerts
    assert "prune refused: the manifests declare no resources at all while 2 owned stream(s)" in (
        run.stdout
    )
    assert "Apply: 0 done, 0 failed, 0 skipped, 2 held." in run.stdout
    assert "--allow-empty-prune" in run.stdout
    assert deletes(sim) == []
    assert set(ours(api)) == {"a", "b"}

    allowed = reconcile(
        "apply", "--yes", "--allow-empty-prune", "--max-deletion-percent", 100, path
    )
    assert allowed.exit_code == 0, allowed.stdout + allowed.stderr
    assert ours(api) == {}


def test_a_cap_stops_the_excess_deletions_and_says_so(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    keys = [f"s{i:02d}" for i in range(12)]
    path.write_text(streams_doc(*keys))
    assert reconcile("apply", "--yes", path).exit_code == 0
    path.write_text(streams_doc("s00"))

    run = reconcile("apply", "--yes", path)  # 25% of 12 owned = 3 per run
    assert run.exit_code == 3, run.stdout + run.stderr  # the rest is held for later runs
    assert "Apply: 3 done, 0 failed, 0 skipped, 8 held." in run.stdout
    assert (
        "8 stream deletion(s) held by the cap (s04, s05, s06, s07, s08, s09, s10, s11): at most "
        "10 per run and 25% of the 12 owned streams (= 3)" in run.stdout
    )
    assert "raise with --max-deletions / --max-deletion-percent" in run.stdout
    assert sorted(ours(api)) == ["s00", *keys[4:]]

    raised = reconcile("apply", "--yes", "--max-deletion-percent", 100, "--max-deletions", 5, path)
    assert raised.exit_code == 3
    assert "3 stream deletion(s) held by the cap (s09, s10, s11)" in raised.stdout
    assert sorted(ours(api)) == ["s00", "s09", "s10", "s11"]


def test_protect_survives_removal_and_orphan_releases(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(
        SETTINGS
        + "---\nkind: Stream\nname: keep\n"
        + "---\nkind: Stream\nname: vault\npolicy: {protect: true}\n"
        + "---\nkind: Stream\nname: loose\npolicy: {deletion: orphan}\n"
        + "spec: {client_entity_data: {team: news}}\n"
    )
    assert reconcile("apply", "--yes", path).exit_code == 0
    before = ours(api)
    path.write_text(streams_doc("keep"))
    sim.clear_log()
    run = reconcile("apply", "--yes", "--max-deletion-percent", 100, path)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert deletes(sim, {s["id"] for s in before.values()}) == []
    assert "kept: protected" in run.stdout
    assert set(ours(api)) == {"keep", "vault"}
    loose = next(s for s in api.list_streams() if s["id"] == before["loose"]["id"])
    data = decode_entity_data(loose["client_entity_data"])
    assert data.marker is None and data.user_data == {"team": "news"}
    again = reconcile("plan", "--detailed-exitcode", path)
    assert again.exit_code == 0, again.stdout


def test_a_stream_orphaned_with_its_broadcast_stays_released(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    """Both orphaned in one run: the broadcast's release edited the stream's marker after the
    stream's own orphan write had removed it, so the edit wrote our marker back; the stream was
    ours again and the next apply pruned it (a deletion the user had said never to make)."""
    path = tmp_path / "set.yaml"
    path.write_text(
        SETTINGS
        + "---\nkind: Stream\nname: keep\n"
        + "---\nkind: Stream\nname: loose\npolicy: {deletion: orphan}\n"
        + "spec: {client_entity_data: {team: news}}\n"
        + "---\nkind: Broadcast\nname: loose-show\npolicy: {deletion: orphan}\n"
        + "spec: {status: pending, streams: [loose]}\n"
    )
    assert reconcile("apply", "--yes", path).exit_code == 0
    loose_id = ours(api)["loose"]["id"]
    show_id = next(b["id"] for b in api.list_broadcasts() if b["name"] == "loose-show")
    path.write_text(streams_doc("keep"))
    run = reconcile("apply", "--yes", "--allow-empty-prune", path)
    assert run.exit_code == 0, run.stdout + run.stderr
    loose = next(s for s in api.list_streams() if s["id"] == loose_id)
    data = decode_entity_data(loose["client_entity_data"])
    assert data.marker is None and data.user_data == {"team": "news"}
    assert set(ours(api)) == {"keep"}
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0
    sim.clear_log()
    assert reconcile("apply", "--yes", "--allow-empty-prune", path).exit_code == 0
    assert deletes(sim, {loose_id, show_id}) == []
    assert {loose_id} <= {s["id"] for s in api.list_streams()}
    assert [b["stream_ids"] for b in api.list_broadcasts() if b["id"] == show_id] == [[loose_id]]


REUSE = """kind: Settings
name: tutorial
---
kind: Stream
name: studio-a
spec: {{active: true, transcoding_region: {region}}}
---
kind: Broadcast
name: show-one
spec: {{status: {one}, streams: [studio-a]}}
---
kind: Broadcast
name: show-two
spec: {{status: {two}, streams: [studio-a]}}
"""


def test_reuse_of_a_stream_in_another_region_waits_for_idle(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(REUSE.format(region="ix1", one="live", two="pending"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    studio = ours(api)["studio-a"]
    assert "vp-push-ix1." in studio["push_url"] and "vp-push-ix1-srt." in studio["push_url_srt"]
    sim.connect(studio["id"])  # broadcast one is on air

    path.write_text(REUSE.format(region="dt1", one="finished", two="live"))
    held = reconcile("apply", "--yes", path)
    assert held.exit_code == 3, held.stdout + held.stderr
    assert "region change ix1 -> dt1 waits until it is idle" in held.stdout
    assert "finishing it waits until the stream is idle" in held.stdout
    assert ours(api)["studio-a"]["transcoding_region"] == "ix1"
    assert {b["name"]: b["status"] for b in api.list_broadcasts()}["show-one"] == "live"

    sim.disconnect(studio["id"])  # broadcast one is over
    sim.clear_log()
    done = reconcile("apply", "--yes", path)
    assert done.exit_code == 0, done.stdout + done.stderr
    after = ours(api)["studio-a"]
    assert after["id"] == studio["id"] and after["token"] == studio["token"]
    assert after["transcoding_region"] == "dt1"
    assert after["push_url"] == studio["push_url"].replace("vp-push-ix1.", "vp-push-dt1.")
    assert "vp-push-dt1-srt." in after["push_url_srt"]
    assert deletes(sim, {studio["id"]}) == []  # a PATCH, never delete-and-recreate
    creates = [r for r in sim.requests() if r["method"] == "POST"]
    assert all("reconciler-lock" in str(r["body"]) for r in creates)
    statuses = {b["name"]: b["status"] for b in api.list_broadcasts()}
    assert statuses == {"show-one": "finished", "show-two": "live"}
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0


GROW = """kind: Settings
name: tutorial
---
kind: Stream
name: studio-a
spec: {{active: true}}
---
kind: Stream
name: studio-c
spec: {{active: true}}
---
kind: Broadcast
name: show
spec: {{status: live, streams: [{streams}]}}
"""


def test_a_stream_added_to_a_live_broadcast_is_applied_while_it_is_on_air(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    """The plan let the move through (it keeps the on-air stream), and apply's re-check held it
    on every run: the re-check's streams carry no decoded markers, and the rule found the kept
    stream through markers. Both now read what the plan resolved."""
    path = tmp_path / "set.yaml"
    path.write_text(GROW.format(streams="studio-a"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    studio, extra = ours(api)["studio-a"], ours(api)["studio-c"]
    sim.connect(studio["id"])
    path.write_text(GROW.format(streams="studio-a, studio-c"))
    plan = reconcile("plan", path)
    assert "0 held" in plan.stdout, plan.stdout
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 0, run.stdout + run.stderr
    show = next(b for b in api.list_broadcasts() if b["name"] == "show")
    assert sorted(show["stream_ids"]) == sorted([studio["id"], extra["id"]])
    assert show["status"] == "live"
    again = reconcile("plan", "--detailed-exitcode", path)
    assert again.exit_code == 0, again.stdout
    assert "stale entry" not in again.stdout and "forged" not in again.stdout

    path.write_text(GROW.format(streams="studio-c"))  # moving it off the on-air stream waits
    held = reconcile("apply", "--yes", path)
    assert held.exit_code == 3, held.stdout + held.stderr
    assert "moving it off that stream waits until the stream is idle" in held.stdout


def test_a_move_held_while_live_raises_no_forgery_warning(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    """The plan records a broadcast on the streams it will use; when its move waits for the
    stream to go idle, that entry is our own, recorded ahead: the next plans do not call it a
    copied, forged or stale entry (it still counts for nothing there)."""
    path = tmp_path / "set.yaml"
    path.write_text(GROW.format(streams="studio-a"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    studio = ours(api)["studio-a"]
    sim.connect(studio["id"])
    path.write_text(GROW.format(streams="studio-c"))
    held = reconcile("apply", "--yes", path)
    assert held.exit_code == 3, held.stdout + held.stderr
    assert "moving it off that stream waits until the stream is idle" in held.stdout
    again = reconcile("plan", path)
    assert "forged" not in again.stdout + again.stderr, again.stdout
    assert "1 held" in again.stdout
    sim.disconnect(studio["id"])
    assert reconcile("apply", "--yes", path).exit_code == 0
    show = next(b for b in api.list_broadcasts() if b["name"] == "show")
    assert show["stream_ids"] == [ours(api)["studio-c"]["id"]]
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0


def test_adopting_a_live_broadcast_with_its_stream_keeps_it_on_air(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    """A hand-made stream and its live broadcast adopted in one commit: the broadcast stays on
    the stream it shows, so nothing is held (the plan looked the stream up by a marker that the
    stream's own adoption had not written yet)."""
    stream = api.create_stream({"name": "Hand cam", "active": True})
    sim.connect(stream["id"])
    fields = {"name": "Hand show", "status": "pending", "stream_ids": [stream["id"]]}
    show = api.create_broadcast(fields)
    api.update_broadcast(show["id"], {"name": "Hand show", "status": "live"})
    path = tmp_path / "set.yaml"
    path.write_text(
        "kind: Settings\nname: tutorial\n---\nkind: Stream\nname: hand-cam\n"
        f"adopt: {stream['id']}\nspec: {{active: true}}\n---\nkind: Broadcast\n"
        f"name: hand-show\nadopt: {show['id']}\nspec: {{status: live, streams: [hand-cam]}}\n"
    )
    run = reconcile("apply", "--yes", path)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "held" not in run.stdout.replace("0 held", "")
    assert set(ours(api)) == {"hand-cam"}
    after = next(b for b in api.list_broadcasts() if b["id"] == show["id"])
    assert after["status"] == "live" and after["stream_ids"] == [stream["id"]]
    assert reconcile("plan", "--detailed-exitcode", path).exit_code == 0


def test_export_then_apply_is_a_no_op(sim: Any, api: Any, reconcile: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "set.yaml").write_text(
        SETTINGS
        + "---\nkind: Stream\nname: cam\npolicy: {protect: true}\n"
        + "spec: {active: true, dvr_enabled: true, client_entity_data: {team: news}}\n"
        + "---\nkind: Broadcast\nname: show\nspec: {status: pending, streams: [cam]}\n"
    )
    assert reconcile("apply", "--yes", source).exit_code == 0
    exported = reconcile("export", "--set-name", "prod")
    assert exported.exit_code == 0, exported.stderr
    target = tmp_path / "exported"
    target.mkdir()
    (target / "export.yaml").write_text(exported.stdout)
    sim.clear_log()
    run = reconcile("apply", "--yes", target)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "No changes." in run.stdout
    assert [r for r in sim.requests() if r["method"] != "GET"] == []


def test_status_shows_the_platforms_view(
    sim: Any, api: Any, reconcile: Any, tmp_path: Path
) -> None:
    path = tmp_path / "set.yaml"
    path.write_text(streams_doc("cam", extra="spec: {active: true, transcoding_region: ix1}\n"))
    assert reconcile("apply", "--yes", path).exit_code == 0
    cam = ours(api)["cam"]
    sim.connect(cam["id"])
    api.start_recording(cam["id"])
    sim.advance(30)
    video = api.stop_recording(cam["id"])
    run = reconcile("status", path)
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1].split() == ["cam", str(cam["id"]), "yes", "no", "no", "yes", "ix1"]
    assert lines[3].split()[:3] == [str(video["id"]), "pending", "30.0s"]
    assert cam["token"] not in run.stdout


def test_cleanup_candidates_show_in_plan_and_apply_deletes_them(
    reconcile_on: Any, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from reconciler.api.client import ClientSettings, StreamingClient
    from reconciler.simulator import Simulator, SimulatorConfig

    # Idle time is judged by the platform's clock (its Date header): the simulated one, 40 days on.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sim = Simulator(SimulatorConfig(api_key="test-key-0123456789", start_time=start))
    api = StreamingClient(
        "http://simulator.invalid",
        "test-key-0123456789",
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None, backoff_base=0.0),
    )
    try:
        reconcile = reconcile_on(sim)
        (tmp_path / "users.txt").write_text("1\n")
        path = tmp_path / "set.yaml"
        path.write_text(
            streams_doc("cam")
            + "---\nkind: Cleanup\nname: stale\nspec:\n  idle_for: 30d\n"
            + "  active_users: {file: users.txt}\n  name_pattern: 'user-*'\n"
        )
        gone = api.create_stream({"name": "user-7", "client_user_id": 7})
        kept = api.create_stream({"name": "user-1", "client_user_id": 1})
        other = api.create_stream({"name": "studio", "client_user_id": 7})
        sim.advance(timedelta(days=40).total_seconds())
        plan = reconcile("plan", "--detailed-exitcode", path)
        assert plan.exit_code == 2, plan.stdout + plan.stderr
        assert (
            f"Cleanup 'stale': idle 40d (never used, created {start.date().isoformat()}), "
            "client_user_id 7 not among 1 active users, name matches 'user-*'" in plan.stdout
        )
        assert f"#{kept['id']}" not in plan.stdout and f"#{other['id']}" not in plan.stdout
        assert reconcile("apply", "--yes", path).exit_code == 0
        left = {s["id"] for s in api.list_streams()}
        assert gone["id"] not in left and {kept["id"], other["id"]} <= left
    finally:
        api.close()
        sim.close()
