"""client_entity_data near the API's 4096 characters: a clear error before anything is sent, or
a working apply right at the limit."""

from __future__ import annotations

import json
from typing import Any

from review_support import converged, entity, mutating, owned

SETTINGS = "kind: Settings\nname: prod\n"


def test_a_declared_mapping_over_the_limit_fails_before_any_request(
    sim: Any, cli: Any, write: Any
) -> None:
    path = write(
        SETTINGS
        + f"---\nkind: Stream\nname: cam\nspec:\n  client_entity_data: {{note: {'x' * 4070}}}\n"
    )
    sim.clear_log()
    for command in ("validate", "plan"):
        run = cli(command, path)
        assert run.exit_code == 1, run.output
        assert "client_entity_data could reach" in run.output and "4096" in run.output
        assert "Traceback" not in run.output
    assert sim.requests() == []


def fill(limit_left: int) -> str:
    """A note that makes {"note": ..., "reconciler": {"key":"cam","set":"prod"}} this long."""
    base = len(
        json.dumps({"note": "", "reconciler": {"key": "cam", "set": "prod"}}, separators=(",", ":"))
    )
    return "x" * (4096 - limit_left - base)


def test_a_mapping_right_at_the_limit_applies_and_converges(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    path = write(
        SETTINGS
        + f"---\nkind: Stream\nname: cam\nspec:\n  client_entity_data: {{note: {fill(0)}}}\n"
    )
    run = cli("apply", "--yes", path)
    assert run.exit_code == 0, run.output
    cam = owned(api, "prod")["cam"]
    assert len(cam["client_entity_data"]) == 4096
    converged(cli, sim, path)


def test_adopting_a_stream_whose_own_data_leaves_no_room_for_the_marker(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    mine = api.create_stream(
        {"name": "big", "client_entity_data": json.dumps({"note": "y" * 4070})}
    )
    path = write(SETTINGS + f"---\nkind: Stream\nname: cam\nadopt: {mine['id']}\n")
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1, run.output
    assert "stream 'cam': client_entity_data would be" in run.output and "4096" in run.output
    assert "Traceback" not in run.output
    assert mutating(sim) == []


def test_undeclared_data_grown_by_hand_then_a_new_broadcast(
    sim: Any, api: Any, cli: Any, write: Any
) -> None:
    """The user's own data (not declared, so theirs) grew by hand until the marker of one more
    broadcast no longer fits: the run must fail clearly and must not leave a broadcast behind that
    no marker records (a broadcast every later run would have to find again by name)."""
    path = write(SETTINGS + "---\nkind: Stream\nname: cam\n")
    assert cli("apply", "--yes", path).exit_code == 0
    cam = owned(api, "prod")["cam"]
    data = entity(cam)
    room = 4096 - len(json.dumps(data, separators=(",", ":"))) - len(',"note":""')
    api.update_stream(
        cam["id"],
        {
            "name": "cam",
            "client_entity_data": json.dumps(
                {**data, "note": "z" * (room - 5)}, separators=(",", ":")
            ),
        },
    )
    converged(cli, sim, path)

    path = write(
        SETTINGS + "---\nkind: Stream\nname: cam\n"
        "---\nkind: Broadcast\nname: show\nspec: {streams: [cam]}\n"
    )
    sim.clear_log()
    run = cli("apply", "--yes", path)
    assert run.exit_code == 1, run.output
    assert "stream 'cam': client_entity_data would be" in run.output, run.output
    assert "4096" in run.output and "Traceback" not in run.output
    assert mutating(sim) == []
    assert api.list_broadcasts() == []
    assert cli("plan", path).exit_code == 1  # the pull-request check says so too
