"""The lease of `reconciler watch`: a lease removed with `reconciler unlock` stops the next
write at once, not at the next heartbeat a third of the ttl later (an explorer saw watch write
beside a manual apply that had taken the freed lock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.api.transport import ClientStats
from reconciler.lock.lease import break_lock
from reconciler.simulator import Faults
from reconciler.watch import leader as leader_module
from reconciler.watch.leader import Leadership
from reconciler.watch.loop import WatchConfig, Watcher
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.queue import HintQueue
from tests.conftest import API_KEY


def test_a_removed_lease_refuses_the_next_write(
    api: Any, sim: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    leader = Leadership(api, "watch@host", ttl=120)
    assert leader.ensure("prod")
    assert leader.write_refusal() is None
    (lease_id,) = [s["id"] for s in api.list_streams() if s["name"] == "reconciler-lock: prod"]
    monkeypatch.setattr(leader_module, "CONFIRM_AGE", 0.0)  # the last word is old enough now
    break_lock(api, "prod")  # `reconciler unlock --yes` while watch leads
    sim.clear_log()
    refusal = leader.write_refusal()
    assert refusal is not None and refusal.startswith("the lease was lost: ")
    assert "removed while held" in refusal
    # One refresh found it gone; nothing else was sent.
    assert [(r["method"], r["path"]) for r in sim.requests()] == [
        ("PATCH", f"/streaming/streams/{lease_id}")
    ]
    assert not leader.leading
    leader.release()  # ends the heartbeat thread (its stream is gone: nothing to release)


def test_a_lease_confirmed_moments_ago_costs_no_request(api: Any, sim: Any) -> None:
    leader = Leadership(api, "watch@host", ttl=120)
    assert leader.ensure("prod")
    sim.clear_log()
    for _ in range(5):
        assert leader.write_refusal() is None
    assert sim.requests() == []
    leader.release()


def test_a_lease_lost_while_the_api_fails_is_not_reported_as_leading(
    sim: Any, api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease expired or was removed and the API fails as watch tries to take it again:
    /readyz said follower, /metrics still said `reconciler_watch_leader 1.0`."""
    path = tmp_path / "set.yaml"
    path.write_text("kind: Settings\nname: prod\n---\nkind: Stream\nname: cam\n")
    client = StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None, retries=0, backoff_base=0.0),
    )
    try:
        metrics = WatchMetrics(ClientStats)
        leader = Leadership(client, "test", 60.0, retry=0.0)
        watcher = Watcher(client, WatchConfig(paths=[str(path)]), leader, HintQueue(16), metrics)
        watcher.step()  # takes the lease, runs the full resync
        assert "reconciler_watch_leader 1.0" in metrics.render().decode()
        monkeypatch.setattr(leader_module, "CONFIRM_AGE", 0.0)
        break_lock(api, "prod")
        assert leader.write_refusal() is not None  # found lost
        sim.set_faults(Faults(error_rate=1.0))  # and the API is down as it tries again
        watcher.step()
        assert "reconciler_watch_leader 0.0" in metrics.render().decode()
        assert watcher.degraded is not None and "taking the lease" in watcher.degraded
        sim.set_faults(Faults())  # the API is back; another replica leads meanwhile
        other = Leadership(api, "other", 60.0)
        assert other.ensure("prod")
        watcher.step()
        assert watcher.degraded is None  # a follower that can read is healthy
        assert leader.holder is not None
        assert leader.holder.startswith("'other' leads set 'prod' (its lease runs to ")
        assert "--lock-wait" not in leader.holder  # apply's advice, not a follower's
        assert "reconciler_watch_leader 0.0" in metrics.render().decode()
        other.release()
    finally:
        sim.set_faults(Faults())
        leader.release()
        client.close()
