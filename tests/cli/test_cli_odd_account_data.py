"""Issue 9 item 13 (account data part): odd `client_entity_data` (a number, an object, JSON nested
hundreds of levels deep) and a stream named with a lone surrogate that a Cleanup pattern matches.
None may crash `plan`, `apply`, `export` or `status`: the stream is nobody's, with a warning, and
nothing is written to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

MANIFEST = """\
kind: Settings
name: s
---
kind: Stream
name: cam
spec:
  name: Cam
---
kind: Cleanup
name: stale
spec:
  idle_for: 1d
  name_pattern: "*"
"""
LONG_AGO = "2020-01-01T00:00:00+00:00"
DEEP = '{"a":' + "[" * 600 + "]" * 600 + "}"


def forge(sim: Any, stream_id: int, **fields: Any) -> None:
    """What the API cannot be made to store but an account was seen to return."""
    store = sim._store
    state = store.get_state("streams", stream_id)
    body = json.loads(store.get_body("streams", stream_id))
    state.update(fields)
    body.update(fields)
    store.put("streams", stream_id, state, body)
    store.commit()


def odd_account(
    sim: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **fields: Any
) -> tuple[Invoke, Path, int]:
    odd = api.create_stream({"name": "someones"})["id"]
    forge(sim, odd, created_at=LONG_AGO, **fields)
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST)
    return Invoke(sim), path, odd


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (5, "its client_entity_data is a number, not text"),
        ({"reconciler": {"set": "s", "key": "cam"}}, "its client_entity_data is a JSON dict"),
        ([1, 2], "its client_entity_data is a JSON list, not text"),
        (DEEP, "its client_entity_data is nested deeper than 64 levels"),
    ],
    ids=["number", "object", "list", "deep"],
)
def test_odd_client_entity_data_is_nobodys_with_a_warning(
    sim: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: Any, why: str
) -> None:
    run, path, odd = odd_account(sim, api, monkeypatch, tmp_path, client_entity_data=value)
    plan = run("plan", "--detailed-exitcode", path)
    assert plan.exit_code == 2, plan.output
    assert f"stream #{odd} ('someones'): {why}" in plan.output
    assert "treated as not managed by any set and never changed or cleaned up" in plan.output
    assert f"#{odd}" not in plan.stdout.split("Plan:")[0].replace(f"stream #{odd} (", "")
    assert run("plan", "-o", "json", path).exit_code == 0

    exported = run("export", "--set-name", "s", "--include-unowned")
    assert exported.exit_code == 0, exported.output
    assert f"# skipped: stream {odd} ('someones') is not exported: {why}" in exported.stdout

    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    writes = [r["path"] for r in sim.requests() if r["method"] != "GET"]
    assert "/streaming/streams" in writes  # Cam created
    assert not [w for w in writes if w.endswith(f"/{odd}")]  # the odd stream untouched
    assert run("status", path).exit_code == 0
    assert run("plan", "--detailed-exitcode", path).exit_code == 0


def test_a_stream_named_with_a_lone_surrogate_is_never_cleaned_up_nor_crashes(
    sim: Any, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run, path, odd = odd_account(sim, api, monkeypatch, tmp_path, name="\ud800")
    for fmt in ("text", "json", "markdown"):
        plan = run("plan", "-o", fmt, path)
        assert plan.exit_code == 0, plan.output
        assert "cleanup" not in plan.stdout.lower().replace("cleaned up", "")
    plan = run("plan", path)
    assert f"stream #{odd} ('\\\\ud800'): its name is not valid text (a lone surrogate)" in (
        plan.output
    )
    exported = run("export", "--set-name", "s", "--include-unowned")
    assert exported.exit_code == 0, exported.output
    assert f"# skipped: stream {odd} ('\\\\ud800') is not exported" in exported.stdout

    sim.clear_log()
    applied = run("apply", "--yes", path)
    assert applied.exit_code == 0, applied.output
    writes = [r["path"] for r in sim.requests() if r["method"] != "GET"]
    assert not [w for w in writes if w.endswith(f"/{odd}")], writes
    assert odd in {s["id"] for s in api.list_streams()}


def test_a_stream_deleted_by_hand_names_the_broadcasts_it_leaves(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    """The record of our broadcasts went with the stream's marker: the plan creates them anew
    (never taken by name) and says which streamless namesakes are likely ours."""
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (studio,) = [s for s in api.list_streams() if s["name"] == "Studio A"]
    left = {b["name"]: b["id"] for b in api.list_broadcasts()}
    api.delete_stream(studio["id"])
    assert all(b["stream_ids"] == [] for b in api.list_broadcasts())
    plan = invoke("plan", manifests)
    assert plan.exit_code == 0, plan.output
    assert "Plan: 3 to create" in plan.stdout
    for key, name in (("encore-show", "Encore show"), ("launch-show", "Launch show")):
        assert (
            f"broadcast '{key}': creating it, while broadcast(s) #{left[name]} named '{name}' use "
            f"no stream (its stream deleted by hand?); if one is this set's, declare "
            f"`adopt: {left[name]}` instead; they are left untouched"
        ) in plan.stdout
