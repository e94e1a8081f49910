"""Two `reconciler apply` processes on the same set at the same moment: one applies, the other
waits for it or stops naming the holder of the lock; never both write, never a duplicate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from chaos_support import N, Account, cli_env, start_cli

from reconciler.simulator import Faults

pytestmark = [pytest.mark.chaos, pytest.mark.port]


def test_two_concurrent_applies_never_both_write(
    sim: Any, sim_server: Any, manifests: Path, account: Account
) -> None:
    sim.set_faults(Faults(latency_ms=2))
    env = cli_env(sim_server.url)
    procs = [start_cli(["apply", str(manifests), "--yes"], env) for _ in range(2)]
    outputs = [p.communicate(timeout=90)[0] for p in procs]
    codes = [p.returncode for p in procs]

    for out in outputs:
        assert "Traceback" not in out
    assert 0 in codes, outputs
    loser = outputs[codes.index(0) - 1] if codes.count(0) == 1 else None
    if loser is not None:
        # It stopped: exit 1, naming who holds the lock, having created nothing.
        assert codes.count(1) == 1, (codes, outputs)
        assert "lock" in loser.lower() and HOLDER_WORD in loser, loser
        assert "created" not in loser.lower()
    census = account.census()
    assert census.duplicates() == []
    assert census.stream_keys == {f"cam-{i:03d}": 1 for i in range(N)}
    assert census.broadcast_names == {f"show-{i:03d}": 1 for i in range(N)}
    assert census.lock_streams == 0
    assert len(account.list("streams")) == N
    # Every object was created once, by one process: no create was attempted twice.
    creates = [r for r in sim.requests() if r["method"] == "POST" and r["status"] == 200]
    stream_creates = [r for r in creates if r["path"] == "/streaming/streams"]
    ours = [r for r in stream_creates if "reconciler-lock" not in json.dumps(r["body"])]
    assert len(ours) == N
    assert len([r for r in creates if r["path"] == "/streaming/broadcasts"]) == N


HOLDER_WORD = "held by"
