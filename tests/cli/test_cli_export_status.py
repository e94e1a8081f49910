"""`export` and `status` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def test_export_then_plan_is_a_no_op(invoke: Any, manifests: Path, tmp_path: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    exported = tmp_path / "exported.yaml"
    result = invoke("export", manifests, "--file", exported)
    assert result.exit_code == 0, result.output
    assert "kind: Stream" in exported.read_text()
    plan = invoke("plan", "--detailed-exitcode", exported)
    assert plan.exit_code == 0, plan.output
    by_name = invoke("export", "--set-name", "tutorial")
    assert by_name.exit_code == 0 and by_name.stdout == exported.read_text()


def test_export_needs_a_set_name(invoke: Any) -> None:
    result = invoke("export")
    assert result.exit_code == 1 and "--set-name" in result.stderr


def test_status_shows_live_and_recording(sim: Any, api: Any, invoke: Any, manifests: Path) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (stream,) = [s for s in api.list_streams() if s["name"] == "Studio A"]
    sim.connect(stream["id"])
    api.start_recording(stream["id"])
    text = invoke("status", manifests)
    assert text.exit_code == 0, text.output
    assert "studio-a" in text.stdout
    value = json.loads(invoke("status", "-o", "json", manifests).stdout)
    (row,) = value["streams"]
    assert (row["key"], row["live"], row["recording"]) == ("studio-a", True, True)


def test_the_header_counts_objects_outside_the_set_apart(
    api: Any, invoke: Any, manifests: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    api.create_stream({"name": "Lobby cam"})
    empty = api.create_broadcast({"name": "Empty", "status": "pending", "stream_ids": []})["id"]
    result = invoke("export", "--set-name", "tutorial", "--include-unowned")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "# Exported by reconciler: 1 stream(s) and 2 broadcast(s) of set 'tutorial', and "
        "1 stream(s) and 0 broadcast(s) outside the set (as `adopt:` documents).\n"
    )
    assert (
        f"# skipped: broadcast {empty} ('Empty') is not exported: it uses no stream (a "
        "manifest's broadcast needs at least one stream)\n" in result.stdout
    )
    owned_only = invoke("export", "--set-name", "tutorial")
    assert owned_only.stdout.startswith(
        "# Exported by reconciler: 1 stream(s) and 2 broadcast(s) of set 'tutorial'.\n"
    )


def test_a_broadcast_waiting_to_go_live_is_exported_as_pending_with_a_note(
    invoke: Any, manifests: Path
) -> None:
    shows = manifests / "broadcasts.yaml"
    text = shows.read_text()
    shows.write_text(
        text.replace("name: launch-show\n", "name: launch-show\npolicy:\n  go_live: when_on_air\n")
    )
    assert invoke("apply", "--yes", manifests).exit_code == 0
    result = invoke("export", manifests)
    assert result.exit_code == 0, result.output
    launch = next(d for d in result.stdout.split("---\n") if "name: launch-show\n" in d)
    assert launch.startswith(
        "# status: pending as in the account. If this broadcast was declared status: live with "
        "policy.go_live: when_on_air (not recorded in the account), it is waiting for its "
        "streams to go on air: write both back, or it stays pending\n"
        "kind: Broadcast\nname: launch-show\nspec:\n  name: Launch show\n  status: pending\n"
    )


@pytest.mark.parametrize(
    ("stored", "exported"),
    [
        ("{}", True),  # an empty object: our marker fits beside nothing
        (' { "reconciler" : { "released_by" : "gone" } } ', True),  # a release record alone
        ('{"team": "ops"}', True),
        ("plain text", False),
        ("[1, 2]", False),
    ],
)
def test_an_unowned_stream_is_exported_unless_its_data_is_not_a_json_object(
    api: Any, invoke: Any, stored: str, exported: bool
) -> None:
    sid = api.create_stream({"name": "Lobby cam", "client_entity_data": stored})["id"]
    result = invoke("export", "--set-name", "tutorial", "--include-unowned")
    assert result.exit_code == 0, result.output
    skipped = (
        f"# skipped: stream {sid} ('Lobby cam') is not exported: its client_entity_data is not "
        "a JSON object, so the ownership marker cannot be stored beside it\n"
    )
    assert (f"adopt: {sid}\n" in result.stdout, skipped in result.stdout) == (
        exported,
        not exported,
    )
