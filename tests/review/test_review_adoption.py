"""Adoption by id end to end: the user's own client_entity_data, text data, another set's stream,
a broadcast, and dropping `adopt:` from the manifest afterwards."""

from __future__ import annotations

import json
from typing import Any

from review_support import converged, entity, marker_broadcasts, mutating, owned, streams

SETTINGS = "kind: Settings\nname: prod\n"


def test_adopting_a_stream_keeps_the_users_json_beside_the_marker(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    mine = api.create_stream(
        {"name": "Lobby", "client_entity_data": json.dumps({"team": "ops", "n": 1})}
    )
    path = write(
        SETTINGS + f"---\nkind: Stream\nname: lobby\nadopt: {mine['id']}\nspec: {{name: Lobby}}\n"
    )
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    patches = [m for m in mutating(sim) if m == f"PATCH /streaming/streams/{mine['id']}"]
    assert len(patches) == 1
    after = api.get_stream(mine["id"])
    data = entity(after)
    assert data["team"] == "ops" and data["n"] == 1
    assert data["reconciler"]["set"] == "prod" and data["reconciler"]["key"] == "lobby"
    converged(cli, sim, path)

    # adopt: removed afterwards: the stream stays ours and nothing is sent
    path = write(SETTINGS + "---\nkind: Stream\nname: lobby\nspec: {name: Lobby}\n")
    converged(cli, sim, path)
    assert set(owned(api, "prod")) == {"lobby"}
    assert {s["id"] for s in streams(api)} == {mine["id"]}


def test_adopting_a_stream_with_text_data_is_refused_unless_declared(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    mine = api.create_stream({"name": "Lobby", "client_entity_data": "customer 42 - gold"})
    path = write(SETTINGS + f"---\nkind: Stream\nname: lobby\nadopt: {mine['id']}\n")
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1, run.output
    assert f"stream 'lobby': adopt_id {mine['id']}: its client_entity_data is text" in run.output
    assert "Traceback" not in run.output
    assert mutating(sim) == []
    assert api.get_stream(mine["id"])["client_entity_data"] == "customer 42 - gold"

    path = write(
        SETTINGS + f"---\nkind: Stream\nname: lobby\nadopt: {mine['id']}\n"
        "spec: {client_entity_data: {customer: 42}}\n"
    )
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    data = entity(api.get_stream(mine["id"]))
    assert data["customer"] == 42 and data["reconciler"]["key"] == "lobby"
    converged(cli, sim, path)


def test_adopting_another_sets_stream_is_refused_and_writes_nothing(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write("kind: Settings\nname: other\n---\nkind: Stream\nname: cam\n")
    assert cli("apply", "--yes", path).exit_code == 0
    theirs = owned(api, "other")["cam"]
    before = api.get_stream(theirs["id"])

    path = write(SETTINGS + f"---\nkind: Stream\nname: cam\nadopt: {theirs['id']}\n")
    sim.clear_log()
    for command in ("plan", "apply"):
        run = cli(command, *(["--yes"] if command == "apply" else []), path)
        assert run.exit_code == 1, run.output
        assert (
            f"stream 'cam': adopt_id {theirs['id']}: the stream belongs to manifest set 'other'"
            in run.output
        )
        assert "Traceback" not in run.output
    assert mutating(sim) == []
    assert api.get_stream(theirs["id"]) == before


def test_adopting_a_broadcast_records_it_and_survives_dropping_adopt(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    stream = api.create_stream({"name": "cam"})
    show = api.create_broadcast({"name": "Show", "status": "pending", "stream_ids": [stream["id"]]})
    text = (
        SETTINGS
        + f"---\nkind: Stream\nname: cam\nadopt: {stream['id']}\n"
        + f"---\nkind: Broadcast\nname: show\nadopt: {show['id']}\n"
        + "spec: {name: Show, streams: [cam]}\n"
    )
    path = write(text)
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    assert marker_broadcasts(api.get_stream(stream["id"])) == {"show": show["id"]}
    assert api.get_broadcast(show["id"])["stream_ids"] == [stream["id"]]
    converged(cli, sim, path)

    path = write(text.replace(f"adopt: {stream['id']}\n", "").replace(f"adopt: {show['id']}\n", ""))
    converged(cli, sim, path)
    assert len(api.list_broadcasts()) == 1 and len(streams(api)) == 1


def test_adopting_a_broadcast_with_a_stream_of_another_set(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """A broadcast listed in another set's markers is refused."""
    other = write(
        "kind: Settings\nname: other\n---\nkind: Stream\nname: cam\n"
        "---\nkind: Broadcast\nname: show\nspec: {streams: [cam]}\n"
    )
    assert cli("apply", "--yes", other).exit_code == 0
    (show,) = api.list_broadcasts()
    path = write(
        SETTINGS + "---\nkind: Stream\nname: cam2\n"
        f"---\nkind: Broadcast\nname: show\nadopt: {show['id']}\n"
        "spec: {streams: [cam2]}\n"
    )
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1, run.output
    assert f"adopt_id {show['id']}" in run.output and "'other'" in run.output
    assert mutating(sim) == []


def test_adopting_a_stream_whose_data_uses_the_reserved_key_is_refused(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    raw = json.dumps({"reconciler": "v2 pipeline", "team": "ops"})
    mine = api.create_stream({"name": "Lobby", "client_entity_data": raw})
    path = write(SETTINGS + f"---\nkind: Stream\nname: lobby\nadopt: {mine['id']}\n")
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1, run.output
    assert "holds a key 'reconciler' of its own" in run.output
    assert mutating(sim) == []
    assert api.get_stream(mine["id"])["client_entity_data"] == raw


def test_every_adoption_conflict_is_one_error_line(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """Several bad adopt ids: each conflict on a line of its own, as planning.md promises (they
    were one line joined by a literal `\\n`), and listed in the JSON error event."""
    text = api.create_stream({"name": "Lobby", "client_entity_data": "customer 42"})
    path = write(
        SETTINGS
        + f"---\nkind: Stream\nname: lobby\nadopt: {text['id']}\n"
        + "---\nkind: Stream\nname: gone\nadopt: 999999\n"
    )
    run = cli("plan", path)
    assert run.exit_code == 1, run.output
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, run.stderr
    assert "\\n" not in run.stderr
    assert any(f"stream 'lobby': adopt_id {text['id']}:" in line for line in errors)
    assert any("stream 'gone': adopt_id 999999:" in line for line in errors)

    as_json = cli("plan", path, "--log-format", "json")
    (event,) = [json.loads(line) for line in as_json.stderr.splitlines() if '"error"' in line]
    assert event["message"] == "2 conflict(s) between the manifests and the account"
    assert sorted(event["conflicts"]) == sorted(line.removeprefix("error: ") for line in errors)
