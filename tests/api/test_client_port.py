"""The client over a real loopback socket: real timeouts, dropped connections, refused ports."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import AmbiguousCreate, Unreachable
from reconciler.simulator import Faults

pytestmark = pytest.mark.port

KEY = "test-key-0123456789"


def over_port(url: str, **settings: Any) -> StreamingClient:
    settings.setdefault("rate_limit", None)
    settings.setdefault("backoff_base", 0.0)
    return StreamingClient(url, KEY, settings=ClientSettings(**settings))


def test_reads_and_writes_over_a_real_port(sim: Any, sim_server: Any) -> None:
    with over_port(sim_server.url) as api:
        sid = api.create_stream({"name": "net"})["id"]
        api.update_stream(sid, {"name": "net", "active": True})
        assert [s["id"] for s in api.list_streams()] == [sid]
        api.delete_stream(sid)
    assert sim.counters()["DELETE /streaming/streams/{id}"] == 1


def test_a_connection_closed_after_a_committed_create_is_ambiguous(
    sim: Any, sim_server: Any
) -> None:
    with over_port(sim_server.url) as api:
        sim.set_faults(Faults(drop_create_rate=1.0, seed=2))
        with pytest.raises(AmbiguousCreate, match="POST /streaming/streams"):
            api.create_stream({"name": "dropped"})
        sim.set_faults(Faults())
        assert [s["name"] for s in api.list_streams()] == ["dropped"]
    assert sim.counters()["POST /streaming/streams"] == 1


def test_a_slow_server_times_out_and_is_retried(sim: Any, sim_server: Any) -> None:
    sim.set_faults(Faults(latency_ms=300))
    with (
        over_port(sim_server.url, timeout=0.05, retries=1) as api,
        pytest.raises(Unreachable, match=r"no complete answer within 0\.05 s .* after 2 attempts"),
    ):
        api.get_stream(1)


def test_a_refused_connection_is_unreachable_and_a_create_is_safely_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with over_port(f"http://127.0.0.1:{port}", retries=2) as api:
        with pytest.raises(Unreachable, match="could not connect after 3 attempts"):
            api.create_stream({"name": "never sent"})  # nothing reached a server: retried
        assert api.stats()["POST /streaming/streams"] == 3


def test_the_deadline_bounds_every_network_transport_proxies_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadline hooks into httpx's connection pools (httpx has no total timeout): if an httpx
    upgrade moved them, this fails before a trickling server could hang a run."""
    from reconciler.api import deadline

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with over_port("https://api.example.test") as api:
        http = api._caller.client()
        transports = [http._transport, *http._mounts.values()]
        pools = [t._pool for t in transports if t is not None]
    assert len(pools) == 2  # the direct one and the proxy from the environment
    assert all(isinstance(p._network_backend, deadline._DeadlineBackend) for p in pools)


def test_a_proxy_from_the_environment_carries_the_calls(
    sim: Any, sim_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls skip httpx's `Client.send` (its steps cost CPU at every page) but still go through
    the transport the environment chose: here a proxy on a port nobody listens on, so the call
    cannot reach the server it would have reached directly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with (
        over_port(sim_server.url, retries=0) as api,
        pytest.raises(Unreachable, match="could not connect"),
    ):
        api.list_streams()
    monkeypatch.delenv("HTTP_PROXY")
    with over_port(sim_server.url) as api:
        assert api.list_streams() == []  # the same call without the proxy reaches the server
    assert sim.counters().get("GET /streaming/streams", 0) == 1
