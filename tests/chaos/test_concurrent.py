"""Two `reconciler apply` processes on the same set at the same moment: one applies, the other
waits for it or stops naming the holder of the lock; never both write, never a duplicate.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from chaos_support import Account, N, cli_env, start_cli

from reconciler.simulator import Faults

pytestmark = [pytest.mark.chaos, pytest.mark.port]


def wait_for_lock_stream(sim: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(
            r["method"] == "POST" and "reconciler-lock" in json.dumps(r["body"])
            for r in sim.requests()
        ):
            return
        time.sleep(0.05)
    raise AssertionError("the first apply never took the lock")


@pytest.mark.parametrize("lock_wait", [0, 30])
def test_two_concurrent_applies_never_both_write(
    sim: Any, sim_server: Any, manifests: Path, account: Account, lock_wait: int
) -> None:
    env = cli_env(sim_server.url)
    args = ["apply", "--yes", "--lock-wait", str(lock_wait), str(manifests)]
    if lock_wait:
        sim.set_faults(Faults(latency_ms=2))
        procs = [start_cli(args, env) for _ in range(2)]  # both at once: either may win
    else:
        # The second run starts once the first holds the lock and is writing slowly (40 ms a
        # request): it plans, finds work to do and meets the lock, whatever the machine's load.
        sim.set_faults(Faults(latency_ms=40))
        procs = [start_cli(args, env)]
        wait_for_lock_stream(sim)
        procs.append(start_cli(args, env))
    outputs = [p.communicate(timeout=90)[0] for p in procs]
    codes = [p.returncode for p in procs]

    for out in outputs:
        assert "Traceback" not in out
    if lock_wait:
        # The second waited for the first, re-read the account and found nothing left to do.
        assert codes == [0, 0], outputs
    else:
        # The second stopped at once: exit 1, naming the run that holds the lock.
        assert codes == [0, 1], outputs
        winner = 0
        loser = outputs[1 - winner]
        assert "is locked by '" in loser, loser
        assert f"pid {procs[winner].pid}'" in loser, loser
        assert "done" not in loser
    census = account.census()
    assert census.duplicates() == []
    assert census.stream_keys == {f"cam-{i:03d}": 1 for i in range(N)}
    assert census.broadcast_names == {f"show-{i:03d}": 1 for i in range(N)}
    assert census.lock_streams == 0 and census.trails == 1  # the last run's, released
    assert len(account.objects("streams")) == N + 1
    # Every object was created once, by one process: no create was attempted twice.
    creates = [r for r in sim.requests() if r["method"] == "POST" and r["status"] == 200]
    stream_creates = [r for r in creates if r["path"] == "/streaming/streams"]
    ours = [r for r in stream_creates if "reconciler-lock" not in json.dumps(r["body"])]
    assert len(ours) == N
    assert len([r for r in creates if r["path"] == "/streaming/broadcasts"]) == N
