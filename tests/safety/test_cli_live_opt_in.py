"""What the plan says about a live change and the caps (docs/safety.md): a note "goes through"
only for a change that does go through (never one that the empty-kind rule, a cap or a key
conflict still holds), and a hold reason names only what can let the change through (no policy
for a document that is gone; a cap of 0 is raised, no later run takes it). Through
`reconciler plan/apply` on the simulator, with an encoder on stream cam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_harness import Invoke

from reconciler.model.marker import decode_entity_data

SETTINGS = "kind: Settings\nname: prod\n"


def stream(key: str, spec: str = "active: true") -> str:
    return f"---\nkind: Stream\nname: {key}\nspec: {{{spec}}}\n"


def cam_on_air(sim: Any, api: Any, run: Invoke, path: Path) -> int:
    path.write_text(SETTINGS + stream("cam") + stream("spare"))
    assert run("apply", "--yes", path).exit_code == 0
    (cam,) = [
        s
        for s in api.list_streams()
        if (m := decode_entity_data(s.get("client_entity_data")).marker) and m.key == "cam"
    ]
    sim.connect(cam["id"])
    return int(cam["id"])


def test_a_forced_live_delete_is_noted_plainly(sim: Any, api: Any, tmp_path: Path) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    cam = cam_on_air(sim, api, run, path)
    path.write_text(SETTINGS + stream("spare"))
    plan = run("plan", "--allow-live-changes", path)
    assert (
        "Note: stream/cam/delete goes through on air, allowed by --allow-live-changes; otherwise "
        f"it would be held: stream 'cam' (id {cam}) is live; deleting it waits until it is idle"
    ) in plan.stdout, plan.stdout
    assert "0 held" in plan.stdout


def test_no_note_for_a_live_change_the_empty_kind_rule_holds(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    cam_on_air(sim, api, run, path)
    path.write_text(SETTINGS)
    plan = run("plan", "--allow-live-changes", path)
    assert "! held: - stream cam" in plan.stdout and "prune refused" in plan.stdout, plan.stdout
    assert "goes through" not in plan.stdout


def test_no_note_for_a_live_delete_the_cap_holds_and_the_cap_says_how_to_pass(
    sim: Any, api: Any, tmp_path: Path
) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    cam = cam_on_air(sim, api, run, path)
    path.write_text(SETTINGS + stream("spare"))
    plan = run("plan", "--allow-live-changes", "--max-deletions", "0", path)
    assert "goes through" not in plan.stdout, plan.stdout
    assert (
        f"! held: - stream cam (id {cam}): delete (deletion cap: no stream deletion is allowed: "
        "--max-deletions (max_deletions in Settings) is 0; raise it to let this through)"
    ) in plan.stdout
    assert "later run" not in plan.stdout
    assert "no run deletes them until the cap is raised" in plan.stdout

    by_percent = run("plan", "--max-deletion-percent", "0", "--allow-live-changes", path)
    assert (
        "deletion cap: no stream deletion is allowed: --max-deletion-percent "
        "(max_deletion_percent in Settings) is 0; raise it to let this through"
    ) in by_percent.stdout, by_percent.stdout


def test_no_note_for_a_live_change_a_key_conflict_holds(sim: Any, api: Any, tmp_path: Path) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    older = api.create_stream({"name": "Someone's old stream"})  # a lower id than ours
    path.write_text(
        SETTINGS + stream("cam") + "---\nkind: Broadcast\nname: show\n"
        "spec: {status: live, streams: [cam]}\n"
    )
    assert run("apply", "--yes", path).exit_code == 0
    cam = max(s["id"] for s in api.list_streams() if s["name"] == "cam")
    sim.connect(cam)
    copy = api.get_stream(cam)["client_entity_data"]
    api.update_stream(older["id"], {"client_entity_data": copy})  # a key conflict
    path.write_text(path.read_text().replace("spec: {active: true}", "spec: {active: false}"))
    plan = run("plan", "--allow-live-changes", path)
    assert "! held: > stream cam" in plan.stdout and "carry this set's marker" in plan.stdout
    assert "goes through" not in plan.stdout, plan.stdout


def test_a_live_hold_names_only_what_can_let_it_through(sim: Any, api: Any, tmp_path: Path) -> None:
    run, path = Invoke(sim), tmp_path / "set.yaml"
    cam = cam_on_air(sim, api, run, path)
    path.write_text(SETTINGS + stream("spare"))  # cam removed: no document, no policy
    removed = run("plan", path)
    assert (
        f"stream 'cam' (id {cam}) is live; deleting it waits until it is idle; "
        "allow with --allow-live-changes)"
    ) in removed.stdout, removed.stdout
    assert "policy.allow_live_changes" not in removed.stdout

    path.write_text(SETTINGS + stream("cam", "active: false") + stream("spare"))
    declared = run("plan", path)
    assert (
        f"stream 'cam' (id {cam}) is live; deactivating it waits until it is idle; "
        "allow with policy.allow_live_changes or --allow-live-changes)"
    ) in declared.stdout, declared.stdout
