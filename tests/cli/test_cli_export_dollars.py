"""`export` writes every string so that it loads back to the account's value: a `${X}` in the
account is text, never a reference, so applying the export writes no environment value (the API
key least of all) into the account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def mutating(sim: Any) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in sim.requests() if e["method"] != "GET"]


def _export(invoke: Any, tmp_path: Path) -> Path:
    target = tmp_path / "exported" / "export.yaml"
    target.parent.mkdir()
    result = invoke("export", "--set-name", "tutorial", "-f", target)
    assert result.exit_code == 0, result.output
    return target


def test_a_reference_to_the_api_key_in_the_account_is_exported_as_text(
    sim: Any, api: Any, invoke: Any, manifests: Path, tmp_path: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (launch,) = [b["id"] for b in api.list_broadcasts() if b["name"] == "Launch show"]
    api.update_broadcast(launch, {"pending_message": "Soon: ${GCORE_API_KEY}"})
    exported = _export(invoke, tmp_path)
    assert "pending_message: 'Soon: $${GCORE_API_KEY}'\n" in exported.read_text()

    plan = invoke("plan", "--detailed-exitcode", exported.parent)
    assert plan.exit_code == 0, plan.output
    assert "No changes." in plan.stdout
    sim.clear_log()
    applied = invoke("apply", "--yes", exported.parent)
    assert applied.exit_code == 0, applied.output
    assert mutating(sim) == []
    assert api.get_broadcast(launch)["pending_message"] == "Soon: ${GCORE_API_KEY}"


def test_dollars_anywhere_load_back_as_the_account_holds_them(
    sim: Any, api: Any, invoke: Any, manifests: Path, tmp_path: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (studio,) = [s for s in api.list_streams() if s["name"] == "Studio A"]
    (encore,) = [b["id"] for b in api.list_broadcasts() if b["name"] == "Encore show"]
    api.update_broadcast(encore, {"pending_message": "$${X}, $$ and ${"})
    entity = json.loads(studio["client_entity_data"])
    entity["${KEY}"] = {"list": ["${UNSET_VARIABLE}", "$", "$${HOME}"]}
    fields = {"name": "Studio ${HOME}", "client_entity_data": json.dumps(entity)}
    api.update_stream(studio["id"], fields)
    exported = _export(invoke, tmp_path)

    # HOME and X set (they would be substituted), UNSET_VARIABLE not (the export would not load)
    env = {"HOME": "/root", "X": "x", "UNSET_VARIABLE": None}
    plan = invoke("plan", "--detailed-exitcode", exported.parent, env=env)
    assert plan.exit_code == 0, plan.output
    sim.clear_log()
    assert invoke("apply", "--yes", exported.parent, env=env).exit_code == 0
    assert mutating(sim) == []
    assert api.get_stream(studio["id"])["name"] == "Studio ${HOME}"
