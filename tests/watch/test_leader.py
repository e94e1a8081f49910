"""The lease of `reconciler watch`: a lease removed with `reconciler unlock` stops the next
write at once, not at the next heartbeat a third of the ttl later (an explorer saw watch write
beside a manual apply that had taken the freed lock)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.lock.lease import break_lock
from reconciler.watch import leader as leader_module
from reconciler.watch.leader import Leadership


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
