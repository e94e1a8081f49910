"""`reconciler unlock` removes a lock left by a run that died; `--lock-owner` names the holder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.lock.lease import acquire_lock
from reconciler.model.marker import LOCK_KEY


def lock_streams(api: Any) -> list[dict[str, Any]]:
    return [s for s in api.list_streams() if LOCK_KEY in (s.get("client_entity_data") or "")]


def test_unlock_removes_a_dead_runs_lock_then_apply_proceeds(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    # A run that died keeps its lock stream in the account until the lock's time to live ends.
    dead = acquire_lock(api, "tutorial", owner="cron@box-1 pid 77", ttl=3600)
    assert invoke("apply", "--yes", manifests).exit_code == 1

    shown = invoke("unlock", manifests, "--yes")
    assert shown.exit_code == 0, shown.output
    assert "lock of 'tutorial' held by 'cron@box-1 pid 77' until " in shown.stdout
    assert f"(stream id {dead.stream_id})" in shown.stdout
    assert shown.stdout.endswith("removed 1 lock of 'tutorial'\n")
    assert lock_streams(api) == []

    assert invoke("apply", "--yes", manifests).exit_code == 0


def test_unlock_without_a_lock_says_so_and_writes_nothing(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    result = invoke("unlock", "--set-name", "tutorial", "--yes")
    assert (result.exit_code, result.stdout) == (0, "manifest set 'tutorial' is not locked\n")
    assert [r for r in sim.requests() if r["method"] != "GET"] == []


def test_the_trail_an_apply_leaves_is_no_lock(
    sim: Any, api: Any, invoke: Any, manifests: Path
) -> None:
    assert invoke("apply", "--yes", manifests).exit_code == 0
    (trail,) = lock_streams(api)  # the run's lock, released: the set's trail
    assert json.loads(trail["client_entity_data"])[LOCK_KEY]["released"] is True
    sim.clear_log()
    result = invoke("unlock", manifests, "--yes")
    assert (result.exit_code, result.stdout) == (0, "manifest set 'tutorial' is not locked\n")
    assert [r for r in sim.requests() if r["method"] != "GET"] == []
    assert lock_streams(api) == [trail]


def test_unlock_off_a_terminal_needs_yes(sim: Any, api: Any, invoke: Any, manifests: Path) -> None:
    acquire_lock(api, "tutorial", owner="cron@box-1 pid 77", ttl=3600)
    result = invoke("unlock", manifests)
    assert result.exit_code == 1
    assert "refusing to unlock without --yes" in result.stderr
    assert len(lock_streams(api)) == 1


def test_lock_owner_names_the_holder_while_apply_runs(
    sim: Any, invoke: Any, manifests: Path
) -> None:
    result = invoke("apply", "--yes", manifests, env={"RECONCILER_LOCK_OWNER": "pipeline #1234"})
    assert result.exit_code == 0, result.output
    # The lock stream's create in the request log shows the owner.
    owners = [
        json.loads(entry["body"]["client_entity_data"])[LOCK_KEY]["owner"]
        for entry in sim.requests()
        if entry["method"] == "POST"
        and entry["path"] == "/streaming/streams"
        and LOCK_KEY in (entry["body"].get("client_entity_data") or "")
    ]
    assert owners == ["pipeline #1234"]
