"""Safety on the simulator through the library pipeline: cleanup in a mixed account, export round
trip, status, and a live stream surviving its removal from the manifests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler import pipeline
from reconciler.export import export_account
from reconciler.lock.record import is_lock_stream
from reconciler.manifest import load_manifests
from reconciler.model.changes import Action, Outcome
from reconciler.model.live import read_live
from reconciler.model.marker import Marker, encode_entity_data
from reconciler.plan.compute import compute_plan
from reconciler.status import read_status, render_status

DAY = 86400.0


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


SETTINGS = "kind: Settings\nname: prod\n"


def run_options(sim: Any) -> pipeline.RunOptions:
    return pipeline.RunOptions(now=sim.now)  # the simulated clock decides what is "idle"


def apply(paths: list[Path], api: Any, sim: Any, **options: Any) -> pipeline.ApplyRun:
    opts = pipeline.RunOptions(now=sim.now, **options)
    desired, _, plan = pipeline.build_plan(paths, api, opts)
    return pipeline.apply_desired(desired, api, plan, opts)


def test_cleanup_deletes_exactly_the_stale_streams_of_a_mixed_account(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    write(tmp_path, "users.txt", "# active users\n1\n2\n")
    manifests = write(
        tmp_path,
        "set.yaml",
        SETTINGS
        + """---
kind: Stream
name: studio
spec: {client_user_id: 21}
---
kind: Cleanup
name: stale
spec:
  idle_for: 30d
  active_users: {file: users.txt}
  delete_recordings: true
""",
    )
    assert apply([manifests], api, sim).report.exit_code == 0
    managed = next(s for s in api.list_streams() if s["name"] == "studio")

    def make(name: str, user: int | None, **extra: Any) -> int:
        fields: dict[str, Any] = {"name": name, "active": True, **extra}
        if user is not None:
            fields["client_user_id"] = user
        return int(api.create_stream(fields)["id"])

    def record(stream_id: int) -> int:
        sim.connect(stream_id)
        api.start_recording(stream_id)
        sim.advance(120)
        video = api.stop_recording(stream_id)
        sim.disconnect(stream_id)
        return int(video["id"])

    gone_user = make("gone-user", 17)
    gone_video = record(gone_user)
    never_used = make("never-used", 18)
    active_user = make("active-user", 1)
    active_video = record(active_user)
    live_now = make("live-now", 19)
    sim.connect(live_now)
    no_user = make("no-user", None)
    other_set = make(
        "other-set", 22, client_entity_data=encode_entity_data(Marker("other", "x"), None)
    )
    sim.advance(35 * DAY)
    recent = make("recent", 20)
    record(recent)
    sim.advance(6 * DAY)

    opts = run_options(sim)
    desired, _, plan = pipeline.build_plan([manifests], api, opts)
    cleanups = {c.target_id for c in plan.changes if c.action is Action.CLEANUP}
    assert cleanups == {gone_user, never_used}
    recordings = {c.target_id for c in plan.changes if c.action is Action.DELETE_RECORDING}
    assert recordings == {gone_video}
    assert any("have no client_user_id" in n and f"#{no_user}" in n for n in plan.notes)

    before = {s["id"] for s in api.list_streams()}
    trail = [f"/streaming/streams/{s['id']}" for s in api.list_streams() if is_lock_stream(s)]
    sim.clear_log()
    run = pipeline.apply_desired(desired, api, plan, opts)
    assert run.report.exit_code == 0
    deletes = sorted(
        r["path"]
        for r in sim.requests()
        if r["method"] == "DELETE" and int(r["path"].rsplit("/", 1)[1]) in before | {gone_video}
    )
    assert deletes == sorted(
        [
            *trail,  # the first apply's lock, released: this run's lock replaces it
            f"/streaming/streams/{gone_user}",
            f"/streaming/streams/{never_used}",
            f"/streaming/videos/{gone_video}",
        ]
    )
    left = {s["id"] for s in api.list_streams()}
    assert {managed["id"], active_user, live_now, no_user, other_set, recent} <= left
    assert {gone_user, never_used}.isdisjoint(left)
    assert [v["id"] for v in api.list_videos(stream_id=active_user)] == [active_video]
    _, _, again = pipeline.build_plan([manifests], api, opts)
    assert again.pending == ()


def test_an_empty_users_file_stops_the_run_and_deletes_nothing(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    write(tmp_path, "users.txt", "# nobody\n")
    manifests = write(
        tmp_path,
        "set.yaml",
        SETTINGS
        + "---\nkind: Cleanup\nname: stale\nspec:\n  idle_for: 1d\n"
        + "  active_users: {file: users.txt}\n",
    )
    api.create_stream({"name": "old", "client_user_id": 5})
    sim.advance(10 * DAY)
    sim.clear_log()
    try:
        pipeline.build_plan([manifests], api, run_options(sim))
    except Exception as exc:
        assert type(exc).__name__ == "ConfigError"
        assert "would select every stream" in str(exc)
    else:
        raise AssertionError("an empty users file must stop the run")
    assert all(r["method"] == "GET" for r in sim.requests())
    assert len(api.list_streams()) == 1


EXPORTED_SET = (
    SETTINGS
    + """---
kind: Stream
name: studio-a
policy: {protect: true}
spec:
  name: Studio A
  active: true
  transcoding_region: ix1
  dvr_enabled: true
  client_user_id: 42
  client_entity_data: {team: news, tags: [a, b]}
---
kind: Stream
name: studio-b
policy: {deletion: orphan}
spec: {uri: "rtmp://user:hunter2secret@origin.example/live?token=abcdef123", pull: true}
---
kind: Broadcast
name: weekly
spec:
  name: Weekly show
  status: pending
  streams: [studio-a, studio-b]
  pending_message: Soon
"""
)


def test_export_then_plan_is_empty_and_export_with_unowned_adopts_explicitly(
    sim: Any, api: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    source = write(tmp_path, "set.yaml", EXPORTED_SET)
    assert apply([source], api, sim).report.exit_code == 0
    stranger = api.create_stream({"name": "Lobby Cam (old)", "dvr_enabled": True})
    api.create_broadcast({"name": "Lobby", "status": "pending", "stream_ids": [stranger["id"]]})

    text = export_account(api, set_name="prod")
    assert "hunter2secret" not in text and "abcdef123" not in text
    assert not any(s["token"] in text for s in api.list_streams())
    assert "Lobby" not in text
    out = tmp_path / "export"
    out.mkdir()
    write(out, "export.yaml", text)
    monkeypatch.setenv(
        "STUDIO_B_URI", "rtmp://user:hunter2secret@origin.example/live?token=abcdef123"
    )
    live = read_live(api)
    exported = load_manifests([out])
    assert compute_plan(exported, live).changes == ()
    assert exported.streams["studio-a"].policy.protect
    assert exported.streams["studio-b"].policy.deletion.value == "orphan"

    everything = export_account(api, set_name="prod", include_unowned=True)
    write(out, "export.yaml", everything)
    assert "adopt: " in everything and "lobby-cam-old-" in everything
    plan = compute_plan(load_manifests([out]), live)
    assert {c.action for c in plan.changes} == {Action.ADOPT}
    assert all(d.path.startswith("/client_entity_data") for c in plan.changes for d in c.diffs)
    assert apply([out], api, sim).report.exit_code == 0
    assert compute_plan(load_manifests([out]), read_live(api)).changes == ()


def test_status_shows_live_recording_and_recordings_processing(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    manifests = write(
        tmp_path,
        "set.yaml",
        SETTINGS
        + "---\nkind: Stream\nname: studio\nspec: {active: true, transcoding_region: ix1}\n"
        "---\nkind: Stream\nname: spare\n",
    )
    assert apply([manifests], api, sim).report.exit_code == 0
    studio = next(s for s in api.list_streams() if s["name"] == "studio")
    desired = load_manifests([manifests])
    api.delete_stream(next(s["id"] for s in api.list_streams() if s["name"] == "spare"))
    sim.connect(studio["id"])
    api.start_recording(studio["id"])
    sim.advance(48)
    video = api.stop_recording(studio["id"])
    api.start_recording(studio["id"])

    (spare, row) = read_status(desired, api)
    assert (row.key, row.id, row.live, row.recording, row.active, row.region) == (
        "studio",
        studio["id"],
        True,
        True,
        True,
        "ix1",
    )
    assert [(r.id, r.status) for r in row.recordings] == [(video["id"], "pending")]
    assert not spare.exists
    sim.advance(30)
    assert read_status(desired, api)[1].recordings[0].status == "viewable"
    sim.advance(60)
    rows = read_status(desired, api)
    assert rows[1].recordings[0].status == "ready"

    text = render_status(rows)
    assert text.splitlines()[0].split() == [
        "STREAM",
        "ID",
        "LIVE",
        "BACKUP",
        "RECORDING",
        "ACTIVE",
        "REGION",
    ]
    assert text.splitlines()[1].split() == ["spare", "-", "-", "-", "-", "-", "-"]
    assert text.splitlines()[3].split() == [
        "studio",
        str(studio["id"]),
        "yes",
        "no",
        "yes",
        "yes",
        "ix1",
    ]
    assert f"{video['id']}  ready" in text
    assert text.endswith("2 stream(s), 1 live, 1 recording.\n")
    data = json.loads(render_status(rows, "json"))
    assert data["streams"][1]["recordings"][0]["status"] == "ready"
    assert studio["token"] not in text + render_status(rows, "json")


def test_a_live_stream_survives_its_removal_and_goes_once_idle(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    two = (
        SETTINGS + "---\nkind: Stream\nname: a\nspec: {active: true}\n---\nkind: Stream\nname: b\n"
    )
    manifests = write(tmp_path, "set.yaml", two)
    assert apply([manifests], api, sim).report.exit_code == 0
    a = next(s for s in api.list_streams() if s["name"] == "a")
    sim.connect(a["id"])
    write(tmp_path, "set.yaml", SETTINGS + "---\nkind: Stream\nname: b\n")
    run = apply([manifests], api, sim, max_deletion_percent=100)
    assert run.report.exit_code == 3
    (held,) = [r for r in run.report.results if r.outcome is Outcome.HELD]
    assert held.change.id == "stream/a/delete" and "is live" in held.detail
    assert a["id"] in {s["id"] for s in api.list_streams()}
    sim.disconnect(a["id"])
    assert apply([manifests], api, sim, max_deletion_percent=100).report.exit_code == 0
    assert a["id"] not in {s["id"] for s in api.list_streams()}
