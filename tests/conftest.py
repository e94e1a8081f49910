"""Shared fixtures: an in-process simulator, a client bound to it, and a real-port server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

API_KEY = "test-key-0123456789"


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    """Secrets registered for masking (keys, tokens) are per run: forget them around each test."""
    from reconciler.redact import forget_secrets

    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def sim() -> Iterator[Any]:
    from reconciler.simulator import Simulator, SimulatorConfig

    simulator = Simulator(SimulatorConfig(api_key=API_KEY))
    yield simulator
    simulator.close()


@pytest.fixture
def api(sim: Any) -> Iterator[Any]:
    """The project's own client, talking to the in-process simulator, without rate limit."""
    from reconciler.api.client import ClientSettings, StreamingClient

    client = StreamingClient(
        "http://simulator.invalid",
        API_KEY,
        transport=sim.transport(),
        settings=ClientSettings(rate_limit=None, backoff_base=0.0),
    )
    yield client
    client.close()


@pytest.fixture
def sim_server(sim: Any) -> Iterator[Any]:
    """The same simulator behind a real TCP port on loopback."""
    from reconciler.simulator import start_server

    server = start_server(sim, host="127.0.0.1", port=0)
    yield server
    server.stop()
