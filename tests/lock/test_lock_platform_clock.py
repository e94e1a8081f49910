"""The lock's expiry is a lease between machines whose clocks may disagree: `reconciler apply`
judges and writes it by the platform's clock (the `Date` of its answers), never its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_harness import Invoke

from reconciler.lock.record import lock_fields, lock_record
from reconciler.model.marker import LOCK_KEY
from reconciler.simulator import Simulator, SimulatorConfig

KEY = "test-key-0123456789"
MANIFEST = "kind: Settings\nname: clock\n---\nkind: Stream\nname: cam\nspec:\n  active: false\n"
OTHER = "ci@runner-3 pid 41"


@pytest.fixture
def skewed_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A platform whose frozen clock is `request.param` days away from this machine's."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=request.param)
    simulator = Simulator(SimulatorConfig(api_key=KEY, start_time=start))
    yield simulator
    simulator.close()


def seed_lock(sim: Simulator, expires_in: float) -> int:
    """Another machine's lock, its expiry written by the platform's clock."""
    expires = int(sim.now().timestamp() + expires_in)
    answer = sim.handle(
        "POST",
        "/streaming/streams",
        {"Authorization": f"APIKey {KEY}"},
        json.dumps(lock_fields("clock", OTHER, expires, "0123456789abcdef")).encode(),
    )
    return int(json.loads(answer.body)["id"])


def streams(sim: Simulator) -> list[dict[str, Any]]:
    answer = sim.handle("GET", "/streaming/streams", {"Authorization": f"APIKey {KEY}"}, b"")
    listed: list[dict[str, Any]] = json.loads(answer.body)
    return listed


@pytest.mark.parametrize("skewed_sim", [10], indirect=True)
def test_a_lock_expired_by_the_platforms_clock_is_taken_over_though_the_local_clock_disagrees(
    skewed_sim: Simulator, tmp_path: Path
) -> None:
    sim = skewed_sim  # the platform is 10 days ahead: by this machine's clock the lock is live
    stale = seed_lock(sim, expires_in=60)
    sim.advance(120)
    path = tmp_path / "set.yaml"
    path.write_text(MANIFEST)

    run = Invoke(sim)("apply", "--yes", path)

    assert run.exit_code == 0, run.output
    left = streams(sim)
    assert stale not in {s["id"] for s in left}
    assert [s["name"] for s in left] == ["reconciler-lock: clock", "cam"]  # ours, released
    trail = lock_record(left[0])
    assert trail is not None and trail.released and trail.owner != OTHER
    posted = [
        json.loads(r["body"]["client_entity_data"])[LOCK_KEY]
        for r in sim.requests()
        if r["method"] == "POST" and LOCK_KEY in json.dumps(r["body"])
    ]
    # This run's own lease was written by the platform's clock too.
    (ours,) = [lease for lease in posted if lease["owner"] != OTHER]
    assert abs(ours["expires_at"] - (sim.now().timestamp() + 120)) <= 2


@pytest.mark.parametrize("skewed_sim", [-10], indirect=True)
def test_a_lock_live_by_the_platforms_clock_holds_though_the_local_clock_says_expired(
    skewed_sim: Simulator, tmp_path: Path
) -> None:
    sim = skewed_sim  # the platform is 10 days behind: by this machine's clock the lock expired
    held = seed_lock(sim, expires_in=600)
    path = tmp_path / "set.yaml"
    path.write_text(MANIFEST)

    run = Invoke(sim)("apply", "--yes", path)

    assert run.exit_code == 1, run.output
    assert f"manifest set 'clock' is locked by '{OTHER}' until " in run.stderr
    left = streams(sim)
    assert [s["id"] for s in left] == [held]  # not deleted, nothing created
    record = lock_record(left[0])
    assert record is not None and record.owner == OTHER
