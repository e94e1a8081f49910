"""Chaos fixtures: a simulator with room for 100 active streams, the manifests of the set, a
fault-free view of the account, and someone else's objects seeded before any run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaos_support import API_KEY, Account, N, write_set


@pytest.fixture
def sim() -> Iterator[Any]:
    """Overrides the root fixture: the default quota of 50 active streams is too small here."""
    from reconciler.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(api_key=API_KEY, active_stream_limit=10 * N))
    yield simulator
    simulator.close()


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    return write_set(tmp_path / "manifests")


@pytest.fixture
def account(sim: Any) -> Iterator[Account]:
    acc = Account(sim)
    yield acc
    acc.close()


@pytest.fixture
def unowned(account: Account) -> dict[str, list[int]]:
    """Someone else's objects in the same account, seeded before any run: plain streams, one with
    another set's marker (same keys as ours!), one with text in client_entity_data, and a
    broadcast on a foreign stream with the same name as one of ours."""
    other_marker = json.dumps({"reconciler": {"set": "other-team", "key": "cam-000"}})
    streams = [
        account.create("streams", {"name": "cam-000", "active": True}),
        account.create("streams", {"name": "someone-else", "client_entity_data": other_marker}),
        account.create("streams", {"name": "legacy", "client_entity_data": "not json at all"}),
        account.create("streams", {"name": "show-001", "dvr_enabled": True}),
    ]
    broadcast = account.create(
        "broadcasts",
        {"broadcast": {"name": "show-000", "status": "pending", "stream_ids": [streams[1]["id"]]}},
    )
    return {"streams": [int(s["id"]) for s in streams], "broadcasts": [int(broadcast["id"])]}


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's client with millisecond backoff (its defaults suit the real API, not a test run
    in seconds). Retry-After from 429s is still honoured as sent."""
    from dataclasses import replace

    from reconciler.cli import account as cli_account

    real = cli_account.client_settings

    def quick(kw: dict[str, Any]) -> Any:
        return replace(real(kw), backoff_base=0.005, backoff_max=0.05)

    monkeypatch.setattr(cli_account, "client_settings", quick)
