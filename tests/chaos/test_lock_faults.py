"""The lock under failing reads, hiding listings and SIGTERM: a run that could not confirm its
lock, or was stopped, must not leave it behind, or every later run (cron, pipeline) is locked out
until its TTL expires.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from typing import Any

import pytest
from chaos_support import Account, N, cli_env, start_cli
from cli_harness import Invoke
from lock.lock_support import HidingLocks
from test_kills import wait_for_writes

from reconciler.errors import ServerError
from reconciler.lock.lease import acquire_lock
from reconciler.simulator import Faults

pytestmark = pytest.mark.chaos


class FailingSecondListing:
    """The real client, except that the second stream listing fails after its retries."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.listings = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def list_streams(self) -> list[dict[str, Any]]:
        self.listings += 1
        if self.listings == 2:
            raise ServerError("server error after 5 attempts", method="GET", path="/streams")
        result: list[dict[str, Any]] = self._api.list_streams()
        return result


def test_a_lock_that_could_not_be_confirmed_is_not_left_behind(api: Any, account: Account) -> None:
    flaky = FailingSecondListing(api)
    with pytest.raises(ServerError):
        acquire_lock(flaky, "chaos", owner="first run", ttl=600)
    assert flaky.listings == 2  # the lock stream was created, then its confirmation failed
    assert account.census().lock_streams == 0
    # So the next run (a cron job a minute later) gets the lock at once.
    with acquire_lock(api, "chaos", owner="next run", ttl=600) as lock:
        assert lock.owner == "next run"


def test_a_lock_stream_the_listing_never_shows_stops_the_run_cleanly(
    sim: Any,
    manifests: Path,
    account: Account,
    unowned: dict[str, list[int]],
) -> None:
    """A proxy whose listings hide lock streams: the run creates its lock once, cannot confirm
    it, removes it and writes nothing else (before: lock streams created in a loop)."""
    before = account.snapshot(unowned)
    invoke = Invoke(sim)
    invoke.transport = HidingLocks(sim.transport())
    sim.clear_log()
    result = invoke("apply", "--yes", manifests)
    assert result.exit_code == 1, result.output
    assert "could not take the lock of manifest set 'chaos'" in result.stderr
    assert "Traceback" not in result.output
    assert [(e["method"], e["path"]) for e in sim.requests() if e["method"] != "GET"] == [
        ("POST", "/streaming/streams"),
        ("DELETE", f"/streaming/streams/{max(s['id'] for s in account.objects('streams')) + 1}"),
    ]
    census = account.census()
    assert census.lock_streams == 0 and census.stream_keys == {}

    invoke.transport = sim.transport()  # the proxy is gone
    result = invoke("apply", "--yes", manifests)
    assert result.exit_code == 0, result.output
    census = account.census()
    assert census.duplicates() == [] and census.lock_streams == 0
    assert census.stream_keys == {f"cam-{i:03d}": 1 for i in range(N)}
    assert account.snapshot(unowned) == before


@pytest.mark.port
def test_sigterm_mid_apply_leaves_no_lock_and_the_next_run_finishes(
    sim: Any, sim_server: Any, manifests: Path, account: Account, unowned: dict[str, list[int]]
) -> None:
    """What CI timeouts and `docker stop` do, at random points of the writing: after each, no
    lock stream and no duplicate; the next run (no --lock-wait: nothing to wait for) converges."""
    before = account.snapshot(unowned)
    sim.set_faults(Faults(latency_ms=10))
    env = cli_env(sim_server.url)
    rng = random.Random(7)
    stopped_mid_run = 0
    for _ in range(3):
        sim.clear_log()
        proc = start_cli(["apply", "--yes", str(manifests)], env)
        wait_for_writes(sim, proc, rng.randint(1, 200))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert "Traceback" not in out
        if proc.returncode == 128 + signal.SIGTERM:
            stopped_mid_run += 1
            assert "interrupted by SIGTERM" in out
        else:
            assert proc.returncode == 0, out  # it had finished before the signal
        census = account.census()
        assert census.lock_streams == 0 and census.trails <= 1
        assert census.duplicates() == []

    proc = start_cli(["apply", "--yes", str(manifests)], env)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    census = account.census()
    assert census.stream_keys == {f"cam-{i:03d}": 1 for i in range(N)}
    assert census.broadcast_names == {f"show-{i:03d}": 1 for i in range(N)}
    assert census.lock_streams == 0
    assert account.snapshot(unowned) == before
    assert stopped_mid_run >= 1
