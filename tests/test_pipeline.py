"""`apply_desired` on the simulator: what it reads after the plan it was given, that the plan
under the lock sees the account as it is once locked, and that a failed lock leaves nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ServerError
from reconciler.lock.record import lock_record
from reconciler.model.changes import Action
from reconciler.model.marker import Marker, encode_entity_data
from reconciler.pipeline import (
    RunOptions,
    apply_desired,
    load_desired,
    plan_against,
    plan_for,
    read_account,
)

MANIFEST = """kind: Settings
name: prod
---
kind: Stream
name: studio-a
spec: {dvr_enabled: true}
---
kind: Stream
name: studio-b
---
kind: Broadcast
name: launch
spec: {status: pending, streams: [studio-a]}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "set.yaml"
    path.write_text(MANIFEST)
    return path


def sweeps(sim: Any) -> dict[str, int]:
    """List sweeps sent since the log was cleared, per kind (a sweep starts at page 1)."""
    counts = {"streams": 0, "broadcasts": 0}
    for r in sim.requests():
        kind = r["path"].removeprefix("/streaming/")
        if r["method"] == "GET" and kind in counts and r["query"].get("page") == "1":
            counts[kind] += 1
    return counts


def test_apply_reads_each_kind_once_after_the_plan(sim: Any, api: Any, manifest: Path) -> None:
    desired = load_desired([manifest])
    live, shown = plan_against(desired, api)
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0
    # Streams: the lock's confirmation (the listing's end: page 1 of an empty account), then
    # the sweep before creating. Broadcasts: only the sweep before creating; the plan is made
    # again on the plan's read, as no other apply of the set took the lock since.
    assert sweeps(sim) == {"streams": 2, "broadcasts": 1}
    assert sim.counters()["POST /streaming/streams"] == 3  # two streams and the lock
    assert "DELETE /streaming/streams/{id}" not in sim.counters()  # the lock stays, released
    (trail,) = [r for r in map(lock_record, api.list_streams()) if r is not None]
    assert trail.released and trail.set_name == "prod"


def test_the_read_can_be_passed_explicitly(sim: Any, api: Any, manifest: Path) -> None:
    desired = load_desired([manifest])
    live = read_account(api)
    shown = plan_for(desired, live, api, RunOptions())  # not from plan_against: nothing known
    sim.clear_log()
    assert apply_desired(desired, api, shown, live=live).report.exit_code == 0
    assert sweeps(sim) == {"streams": 2, "broadcasts": 1}  # as above: nothing read again


def test_without_the_plans_read_the_lock_lists_streams_itself(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    shown = plan_for(desired, read_account(api), api, RunOptions())
    sim.clear_log()
    assert apply_desired(desired, api, shown).report.exit_code == 0
    # Streams: the lock's own sweep, its confirming one (the re-plan's), before creating.
    assert sweeps(sim) == {"streams": 3, "broadcasts": 2}


def test_the_plan_under_the_lock_sees_changes_made_after_the_plan_shown(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    _live, shown = plan_against(desired, api)
    assert {c.key for c in shown.pending if c.action is Action.CREATE} >= {"studio-a", "studio-b"}
    # Another run creates studio-b (with our marker) between the plan shown and the apply.
    marker = encode_entity_data(Marker("prod", "studio-b"), None)
    api.create_stream({"name": "studio-b", "client_entity_data": marker})
    run = apply_desired(desired, api, shown)
    assert run.report.exit_code == 0
    assert run.replanned
    assert "studio-b" not in {c.key for c in run.plan.changes if c.action is Action.CREATE}
    names = sorted(s["name"] for s in api.list_streams())
    assert names == ["reconciler-lock: prod", "studio-a", "studio-b"]  # created once; released


def test_an_apply_of_the_set_between_the_plan_and_the_lock_is_read_again(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    live, shown = plan_against(desired, api)
    # Another apply of the set runs between the plan shown and this one's lock.
    assert apply_desired(desired, api, plan_against(desired, api)[1]).report.exit_code == 0
    sim.clear_log()
    run = apply_desired(desired, api, shown, live=live)
    assert run.report.exit_code == 0
    assert run.replanned and run.plan.pending == ()  # it saw the other run's work: nothing left
    assert sweeps(sim) == {"streams": 1, "broadcasts": 1}  # the listing's end proved nothing
    assert [c for c, n in sim.counters().items() if c.startswith(("POST", "PATCH"))] == [
        "POST /streaming/streams",  # the lock
        "PATCH /streaming/streams/{id}",  # its release
    ]
    names = sorted(s["name"] for s in api.list_streams())
    assert names == ["reconciler-lock: prod", "studio-a", "studio-b"]


def test_an_apply_that_found_its_read_current_writes_what_it_showed(
    sim: Any, api: Any, manifest: Path
) -> None:
    desired = load_desired([manifest])
    assert apply_desired(desired, api, plan_against(desired, api)[1]).report.exit_code == 0
    for _ in range(30):
        api.create_stream({"name": "someone else's"})  # the set's streams on page 1
    edited = load_desired([_edit(manifest, "dvr_enabled: true", "dvr_enabled: false")])
    live, shown = plan_against(edited, api)
    sim.clear_log()
    run = apply_desired(edited, api, shown, live=live)
    assert run.report.exit_code == 0 and not run.replanned
    assert [c.id for c in run.plan.pending] == ["stream/studio-a/update"]
    # The lock, the listing's end (page 2, page 3), the update, the release, the old trail.
    assert sim.counters() == {
        "POST /streaming/streams": 1,
        "GET /streaming/streams": 2,
        "PATCH /streaming/streams/{id}": 2,
        "DELETE /streaming/streams/{id}": 1,
    }


def _edit(path: Path, old: str, new: str) -> Path:
    path.write_text(path.read_text().replace(old, new))
    return path


def test_a_lock_that_cannot_be_confirmed_fails_the_apply_and_is_removed(
    sim: Any, api: Any, manifest: Path
) -> None:
    class ConfirmationFails:
        def __init__(self, real: Any) -> None:
            self._real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

        def list_streams(self) -> list[dict[str, Any]]:
            raise ServerError("server error after 5 attempts", method="GET", path="/streams")

    desired = load_desired([manifest])
    _live, shown = plan_against(desired, api)
    with pytest.raises(ServerError):
        apply_desired(desired, ConfirmationFails(api), shown)
    streams = api.list_streams()
    assert [s for s in streams if lock_record(s) is not None] == []
    assert streams == []  # nothing of the plan was applied either
