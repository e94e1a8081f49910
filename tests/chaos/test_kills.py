"""`reconciler apply` killed (SIGKILL) at random moments, again and again: the next run finds what
the killed ones did and finishes it, with exactly one object per key and nothing else touched.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from chaos_support import Account, N, cli_env, start_cli

from reconciler.simulator import Faults

pytestmark = [pytest.mark.chaos, pytest.mark.port]

KILLS = 5
# A killed run cannot release its lock: it expires after the TTL, and the next run waits for it
# (what a cron job does with --lock-wait).
APPLY = ["apply", "--yes", "--lock-ttl", "2", "--lock-wait", "20"]


def run_to_end(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    proc = start_cli(args, env)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"`reconciler {' '.join(args)}` did not finish in {timeout} s:\n{out}")
    return proc.returncode, out


def wait_for_writes(sim: Any, proc: Any, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(1 for r in sim.requests() if r["method"] != "GET") >= count:
            return
        time.sleep(0.01)


def test_killed_applies_are_finished_by_the_next_run(
    sim: Any, sim_server: Any, manifests: Path, account: Account, unowned: dict[str, list[int]]
) -> None:
    before = account.snapshot(unowned)
    # A full run is ~400 requests (~300 writes: a stream's marker and activation are one PATCH):
    # at 10 ms each, 8 in flight, a kill lands in the middle of it.
    sim.set_faults(Faults(latency_ms=10))
    env = cli_env(sim_server.url)
    rng = random.Random(1)
    killed_mid_run = 0
    for _ in range(KILLS):
        sim.clear_log()
        proc = start_cli([*APPLY, str(manifests)], env)
        # Kill after a random number of writes (not a random delay: a loaded machine may start
        # Python slowly), so the kill lands in the middle of writing.
        wait_for_writes(sim, proc, rng.randint(1, 100))  # at least two kills mid-run
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        writes = [r for r in sim.requests() if r["method"] != "GET"]
        killed_mid_run += bool(writes) and proc.returncode == -signal.SIGKILL
        assert account.census().duplicates() == []

    code, out = run_to_end([*APPLY, str(manifests)], env)
    assert code == 0, out
    assert "Traceback" not in out
    code, out = run_to_end(["plan", str(manifests), "--detailed-exitcode"], env)
    assert code == 0, out

    census = account.census()
    assert census.stream_keys == {f"cam-{i:03d}": 1 for i in range(N)}
    assert census.broadcast_names == {f"show-{i:03d}": 1 for i in range(N)}
    assert census.recorded == {f"show-{i:03d}": 1 for i in range(N)}
    assert census.lock_streams == 0 and census.trails <= 1
    assert len(account.objects("broadcasts")) == N + len(unowned["broadcasts"])
    assert account.snapshot(unowned) == before
    assert killed_mid_run >= 2  # the kills really interrupted writing runs
