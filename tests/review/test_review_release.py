"""Protect and orphan end to end: what stays, what is released, and that a released object is
never taken back or touched again."""

from __future__ import annotations

from typing import Any

from review_support import converged, entity, marker_broadcasts, mutating, owned

SETTINGS = "kind: Settings\nname: prod\n"
CAM = "---\nkind: Stream\nname: cam\nspec: {client_entity_data: {team: ops}}\n"


def show(policy: str = "", name: str = "Show") -> str:
    extra = f"policy: {{{policy}}}\n" if policy else ""
    return f"---\nkind: Broadcast\nname: show\n{extra}spec: {{name: {name}, streams: [cam]}}\n"


def test_a_protected_stream_and_broadcast_stay_and_converge(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(
        SETTINGS
        + "---\nkind: Stream\nname: keep\npolicy: {protect: true}\n"
        + CAM
        + show("protect: true")
    )
    assert cli("apply", "--yes", path).exit_code == 0
    path = write(SETTINGS + CAM)
    sim.clear_log()
    run = cli("plan", path)
    assert "stream 'keep'" in run.output and "kept: protected" in run.output
    assert "broadcast 'show'" in run.output
    converged(cli, sim, path)
    assert set(owned(api, "prod")) == {"cam", "keep"}
    assert len(api.list_broadcasts()) == 1


def test_an_orphaned_stream_keeps_the_users_data_and_can_be_adopted_elsewhere(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(
        SETTINGS + "---\nkind: Stream\nname: cam\npolicy: {deletion: orphan}\n"
        "spec: {client_entity_data: {team: ops}}\n---\nkind: Stream\nname: other\n"
    )
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "prod")["cam"]
    path = write(SETTINGS + "---\nkind: Stream\nname: other\n")
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    # The user's keys stay as they were; the set's release record replaces our marker.
    assert entity(api.get_stream(cam["id"])) == {
        "team": "ops",
        "reconciler": {"released_by": "prod"},
    }
    converged(cli, sim, path)
    assert [m for m in mutating(sim) if str(cam["id"]) in m] == []

    there = write(
        f"kind: Settings\nname: other-set\n---\nkind: Stream\nname: moved\nadopt: {cam['id']}\n"
    )
    assert cli("apply", "--yes", there).exit_code == 0
    data = entity(api.get_stream(cam["id"]))
    assert data["team"] == "ops" and data["reconciler"]["set"] == "other-set"
    converged(cli, sim, path)
    converged(cli, sim, there)


def test_an_orphaned_broadcast_is_not_taken_back_by_a_new_one_with_its_name(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Released means never touched again: a later broadcast declared with the same title on
    the same streams is a new broadcast, not the released one found 'from an interrupted run'."""
    path = write(SETTINGS + CAM + show("deletion: orphan"))
    assert cli("apply", "--yes", path).exit_code == 0
    (released,) = api.list_broadcasts()
    path = write(SETTINGS + CAM)
    assert cli("apply", "--yes", "--allow-empty-prune", path).exit_code == 0
    assert marker_broadcasts(owned(api, "prod")["cam"]) == {}
    before = api.get_broadcast(released["id"])

    path = write(
        SETTINGS
        + CAM
        + show(name="Show").replace("name: show", "name: show2").replace("pending_message", "x")
    )
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert [m for m in mutating(sim) if str(released["id"]) in m] == [], run.output
    assert api.get_broadcast(released["id"]) == before
    assert len(api.list_broadcasts()) == 2
    converged(cli, sim, path)


def test_a_released_broadcast_can_still_be_adopted_explicitly(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(SETTINGS + CAM + show("deletion: orphan"))
    assert cli("apply", "--yes", path).exit_code == 0
    (released,) = api.list_broadcasts()
    path = write(SETTINGS + CAM)
    assert cli("apply", "--yes", "--allow-empty-prune", path).exit_code == 0
    converged(cli, sim, path)

    path = write(
        SETTINGS + CAM + show().replace("name: show\n", f"name: again\nadopt: {released['id']}\n")
    )
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    cam = owned(api, "prod")["cam"]
    assert marker_broadcasts(cam) == {"again": released["id"]}
    assert "released_broadcasts" not in entity(cam)["reconciler"]
    converged(cli, sim, path)


def test_a_released_broadcast_deleted_by_hand_is_forgotten(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(SETTINGS + CAM + show("deletion: orphan"))
    assert cli("apply", "--yes", path).exit_code == 0
    (released,) = api.list_broadcasts()
    path = write(SETTINGS + CAM)
    assert cli("apply", "--yes", "--allow-empty-prune", path).exit_code == 0
    assert entity(owned(api, "prod")["cam"])["reconciler"]["released_broadcasts"] == [
        released["id"]
    ]
    api.delete_broadcast(released["id"])
    assert cli("apply", "--yes", path).exit_code == 0
    assert "released_broadcasts" not in entity(owned(api, "prod")["cam"])["reconciler"]
    converged(cli, sim, path)


DAY = 86_400
CLEANUP = "---\nkind: Cleanup\nname: stale\nspec: {idle_for: 7d}\n"
PULL = (
    "---\nkind: Stream\nname: pull1\npolicy: {deletion: orphan}\n"
    "spec: {name: Pull 1, client_entity_data: {team: ops}}\n"
)
OTHER = "---\nkind: Stream\nname: other\n"


def test_a_stream_released_by_orphan_is_never_cleaned_up_by_its_own_set(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Released means never touched again: the set's own Cleanup does not take the stream it
    just let go of for a stale stranger's (and an apply that exits 0 leaves an empty plan)."""
    path = write(SETTINGS + PULL + OTHER + CLEANUP)
    assert cli("apply", "--yes", path).exit_code == 0
    pull = owned(api, "prod")["pull1"]
    sim.advance(8 * DAY)  # idle for longer than the Cleanup's idle_for

    path = write(SETTINGS + OTHER + CLEANUP)
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert "client_entity_data.reconciler: removed, a release record left (our marker)" in (
        run.output
    )
    assert f'done     ~ stream pull1 "Pull 1" (id {pull["id"]}): orphan' in run.output
    released = api.get_stream(pull["id"])
    assert "pull1" not in owned(api, "prod")
    assert {k: v for k, v in entity(released).items() if k != "reconciler"} == {"team": "ops"}
    converged(cli, sim, path)
    assert [m for m in mutating(sim) if str(pull["id"]) in m] == []
    assert pull["id"] in {s["id"] for s in api.list_streams()}

    # Another set's Cleanup leaves it too: a set let it go on purpose, a person keeps it.
    there = path.with_name("there.yaml")
    there.write_text("kind: Settings\nname: other-set\n---\nkind: Stream\nname: cam\n" + CLEANUP)
    assert cli("apply", "--yes", there).exit_code == 0
    converged(cli, sim, there)
    assert pull["id"] in {s["id"] for s in api.list_streams()}


def test_a_released_stream_is_exported_and_adopted_like_any_unowned_stream(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(SETTINGS + PULL + OTHER + CLEANUP)
    assert cli("apply", "--yes", path).exit_code == 0
    pull = owned(api, "prod")["pull1"]
    path = write(SETTINGS + OTHER + CLEANUP)
    assert cli("apply", "--yes", path).exit_code == 0

    exported = cli("export", "--include-unowned", path)
    assert exported.exit_code == 0, exported.output
    assert f"adopt: {pull['id']}" in exported.stdout
    assert f"stream {pull['id']}" not in exported.stdout  # not listed as skipped

    path = write(
        SETTINGS + OTHER + CLEANUP + f"---\nkind: Stream\nname: pull2\nadopt: {pull['id']}\n"
    )
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    data = entity(api.get_stream(pull["id"]))
    assert data["team"] == "ops" and data["reconciler"] == {"set": "prod", "key": "pull2"}
    converged(cli, sim, path)


BARE = (
    "---\nkind: Stream\nname: bare\npolicy: {deletion: orphan}\nspec: {name: Bare}\n"
    "---\nkind: Broadcast\nname: bare-show\npolicy: {deletion: orphan}\n"
    "spec: {name: Bare show, streams: [bare]}\n"
)


def test_a_released_stream_with_no_data_of_its_own_is_exported_with_its_broadcast(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Released with nothing of the user's beside the release record (client_entity_data is
    exactly `{"reconciler":{"released_by":"prod"}}`): exported as an `adopt:` document like any
    unowned stream, and its broadcast with it; applying the export adopts both, converged."""
    path = write(SETTINGS + OTHER + BARE)
    assert cli("apply", "--yes", path).exit_code == 0
    bare = owned(api, "prod")["bare"]
    (show,) = api.list_broadcasts()
    path = write(SETTINGS + OTHER)
    released = cli("apply", "--yes", "--allow-empty-prune", path)
    assert released.exit_code == 0, released.output
    assert api.get_stream(bare["id"])["client_entity_data"] == (
        '{"reconciler":{"released_by":"prod"}}'
    )

    exported = cli("export", "--include-unowned", path)
    assert exported.exit_code == 0, exported.output
    assert "is not exported" not in exported.output
    assert f"adopt: {bare['id']}" in exported.stdout
    assert f"adopt: {show['id']}" in exported.stdout

    path = write(exported.stdout)
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert entity(api.get_stream(bare["id"]))["reconciler"]["set"] == "prod"
    assert set(marker_broadcasts(owned(api, "prod")[f"bare-{bare['id']}"]).values()) == {show["id"]}
    converged(cli, sim, path)


POP = (
    "---\nkind: Stream\nname: pop\npolicy: {deletion: orphan}\n"
    "spec: {name: Popup, active: true}\n"
    "---\nkind: Broadcast\nname: pop-show\nspec: {name: Popup show, status: live, streams: [pop]}\n"
)
KEPT_SHOW = "---\nkind: Broadcast\nname: other-show\nspec: {name: Other, streams: [other]}\n"


def test_a_stream_is_released_only_after_the_broadcasts_it_records_are_deleted(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Releasing a stream drops the only record of its broadcasts: while the delete of its live
    show is held (the encoder is on air), the release waits for it; once the show is over, one
    run deletes the show, then releases the stream, and the plan after it is empty."""
    path = write(SETTINGS + OTHER + KEPT_SHOW + POP)
    assert cli("apply", "--yes", path).exit_code == 0
    pop = owned(api, "prod")["pop"]
    show = next(b for b in api.list_broadcasts() if b["name"] == "Popup show")
    sim.connect(pop["id"])

    path = write(SETTINGS + OTHER + KEPT_SHOW)
    held = cli("apply", "--yes", path)
    assert held.exit_code == 3, held.output
    assert f'held     - broadcast pop-show "Popup show" (id {show["id"]}): delete' in held.output
    assert (
        f'held     ~ stream pop "Popup" (id {pop["id"]}): orphan: waits for '
        "broadcast/pop-show/delete, which is held: "
    ) in held.output
    assert marker_broadcasts(owned(api, "prod")["pop"]) == {"pop-show": show["id"]}

    sim.disconnect(pop["id"])
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    writes = mutating(sim)
    assert writes.index(f"DELETE /streaming/broadcasts/{show['id']}") < writes.index(
        f"PATCH /streaming/streams/{pop['id']}"
    )
    assert writes.count(f"PATCH /streaming/streams/{pop['id']}") == 1  # the release alone
    assert show["id"] not in {b["id"] for b in api.list_broadcasts()}
    assert entity(api.get_stream(pop["id"])) == {"reconciler": {"released_by": "prod"}}
    converged(cli, sim, path)
