"""Two manifest sets in one account, key renames and title changes, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from review_support import converged, marker_broadcasts, mutating, owned


def doc(set_name: str, *, title: str = "Cam", streams: tuple[str, ...] = ("cam",)) -> str:
    text = f"kind: Settings\nname: {set_name}\n"
    for key in streams:
        text += f"---\nkind: Stream\nname: {key}\nspec: {{name: {title}, active: true}}\n"
    text += f"---\nkind: Broadcast\nname: show\nspec: {{name: Show, streams: [{streams[0]}]}}\n"
    return text


def test_two_sets_with_identical_keys_and_titles_never_touch_each_other(
    sim: Any, api: Any, cli: Any, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(doc("alpha"))
    b.write_text(doc("beta"))
    assert cli("apply", "--yes", a).exit_code == 0
    assert cli("apply", "--yes", b).exit_code == 0
    cam_a, cam_b = owned(api, "alpha")["cam"], owned(api, "beta")["cam"]
    assert cam_a["id"] != cam_b["id"]
    assert len(api.list_broadcasts()) == 2
    converged(cli, sim, a)
    converged(cli, sim, b)

    # beta changes its title, then removes everything but a new stream: alpha is never touched
    b.write_text(doc("beta", title="Cam B"))
    sim.clear_log()
    assert cli("apply", "--yes", b).exit_code == 0
    touched = {m.rsplit("/", 1)[1] for m in mutating(sim)}
    assert str(cam_a["id"]) not in touched
    b.write_text("kind: Settings\nname: beta\n---\nkind: Stream\nname: other\n")
    run = cli("apply", "--yes", "--allow-empty-prune", "--max-deletion-percent", 100, b)
    assert run.exit_code == 0, run.output
    assert set(owned(api, "beta")) == {"other"}, run.output
    assert owned(api, "alpha")["cam"] == api.get_stream(cam_a["id"])
    assert api.get_stream(cam_a["id"])["name"] == "Cam"
    (show_a,) = api.list_broadcasts()
    assert marker_broadcasts(cam_a) == {"show": show_a["id"]}
    converged(cli, sim, a)


def test_a_broadcast_cannot_reference_another_sets_stream(
    sim: Any, api: Any, cli: Any, tmp_path: Path
) -> None:
    """A broadcast of alpha can show only alpha's streams: naming beta's stream needs an
    adoption, which is refused, and nothing is written."""
    b = tmp_path / "b.yaml"
    b.write_text(doc("beta"))
    assert cli("apply", "--yes", b).exit_code == 0
    cam_b = owned(api, "beta")["cam"]
    a = tmp_path / "a.yaml"
    a.write_text(
        "kind: Settings\nname: alpha\n---\nkind: Stream\nname: cam\n"
        f"---\nkind: Stream\nname: guest\nadopt: {cam_b['id']}\n"
        "---\nkind: Broadcast\nname: show\nspec: {streams: [cam, guest]}\n"
    )
    sim.clear_log()
    run = cli("apply", "--yes", a)
    assert run.exit_code == 1
    assert "belongs to manifest set 'beta'" in run.output
    assert mutating(sim) == []


def test_a_hand_made_broadcast_using_both_sets_streams_is_left_alone(
    sim: Any, api: Any, cli: Any, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(doc("alpha"))
    b.write_text(doc("beta"))
    assert cli("apply", "--yes", a).exit_code == 0
    assert cli("apply", "--yes", b).exit_code == 0
    ids = [owned(api, "alpha")["cam"]["id"], owned(api, "beta")["cam"]["id"]]
    # a hand-made broadcast called "Show" (like both sets' broadcasts) using both streams
    both = api.create_broadcast({"name": "Show", "status": "pending", "stream_ids": ids})
    converged(cli, sim, a)
    converged(cli, sim, b)
    # both sets lose their own broadcast by hand: neither may take over the hand-made one
    for bc in api.list_broadcasts():
        if bc["id"] != both["id"]:
            api.delete_broadcast(bc["id"])
    for path, set_name in ((a, "alpha"), (b, "beta")):
        run = cli("apply", "--yes", path)
        assert run.exit_code == 0, run.output
        recorded = marker_broadcasts(owned(api, set_name)["cam"])
        assert recorded["show"] != both["id"], run.output
    assert api.get_broadcast(both["id"])["stream_ids"] == ids
    converged(cli, sim, a)
    converged(cli, sim, b)


def test_title_change_is_one_patch_on_the_same_id(
    sim: Any, api: Any, cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(doc("alpha"))
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "alpha")["cam"]
    path.write_text(doc("alpha", title="Cam renamed"))
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    after = api.get_stream(cam["id"])
    assert after["name"] == "Cam renamed" and after["token"] == cam["token"]
    own = [m for m in mutating(sim) if str(cam["id"]) in m]
    assert own == [f"PATCH /streaming/streams/{cam['id']}"]
    converged(cli, sim, path)


def test_key_rename_deletes_and_creates_as_documented(
    sim: Any, api: Any, cli: Any, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(doc("alpha", streams=("cam", "spare1", "spare2", "spare3")))
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "alpha")["cam"]
    path.write_text(doc("alpha", streams=("studio", "spare1", "spare2", "spare3")))
    shown = cli("plan", path)
    assert shown.exit_code == 0, shown.output
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    now = owned(api, "alpha")
    assert "cam" not in now and now["studio"]["id"] != cam["id"]
    (show,) = api.list_broadcasts()
    assert show["stream_ids"] == [now["studio"]["id"]]
    assert marker_broadcasts(now["studio"]) == {"show": show["id"]}
    converged(cli, sim, path)
