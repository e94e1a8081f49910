"""The client against the simulator: bodies in its request log, sweeps, faults."""

from __future__ import annotations

import math
from typing import Any

import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import AmbiguousCreate, AuthError, NotFoundError, ValidationFailed
from reconciler.simulator import Faults, Simulator, SimulatorConfig

KEY = "test-key-0123456789"  # the key tests/conftest.py gives the simulator


def client_for(sim: Any, *, sleep: Any = None, **settings: Any) -> StreamingClient:
    settings.setdefault("rate_limit", None)
    settings.setdefault("backoff_base", 0.0)
    return StreamingClient(
        "http://simulator.invalid",
        KEY,
        transport=sim.transport(),
        settings=ClientSettings(**settings),
        sleep=sleep or (lambda s: None),
    )


def api_calls(sim: Any) -> list[tuple[str, str, Any]]:
    return [(r["method"], r["path"], r["body"]) for r in sim.requests()]


def test_every_write_reaches_the_simulator_wrapped_as_the_sdk_sends_it(api: Any, sim: Any) -> None:
    stream = api.create_stream({"name": "studio-a", "active": False})
    sid = stream["id"]
    api.update_stream(sid, {"name": "studio-a", "dvr_enabled": True})
    broadcast = api.create_broadcast({"name": "show", "status": "pending", "stream_ids": [sid]})
    bid = broadcast["id"]
    api.update_broadcast(bid, {"name": "show", "status": "paused"})
    api.delete_broadcast(bid)
    api.delete_stream(sid)
    assert api_calls(sim) == [
        ("POST", "/streaming/streams", {"name": "studio-a", "active": False}),
        (
            "PATCH",
            f"/streaming/streams/{sid}",
            {"stream": {"name": "studio-a", "dvr_enabled": True}},
        ),
        (
            "POST",
            "/streaming/broadcasts",
            {"broadcast": {"name": "show", "status": "pending", "stream_ids": [sid]}},
        ),
        (
            "PATCH",
            f"/streaming/broadcasts/{bid}",
            {"broadcast": {"name": "show", "status": "paused"}},
        ),
        ("DELETE", f"/streaming/broadcasts/{bid}", None),
        ("DELETE", f"/streaming/streams/{sid}", None),
    ]
    assert stream["push_url"]  # the full object came back
    assert broadcast["stream_ids"] == [sid]


def test_recording_calls_on_a_live_stream(api: Any, sim: Any) -> None:
    sid = api.create_stream({"name": "rec", "active": True})["id"]
    sim.connect(sid)
    api.start_recording(sid)
    video = api.stop_recording(sid)
    assert video is not None and video["stream_id"] == sid
    assert [v["id"] for v in api.list_videos(stream_id=sid)] == [video["id"]]
    api.delete_video(video["id"])
    assert api.list_videos(stream_id=sid) == []


@pytest.mark.parametrize(("count", "requests"), [(0, 1), (1, 2), (25, 3), (26, 3), (60, 4)])
def test_sweeps_against_the_simulator_cost_what_they_should(
    api: Any, sim: Any, count: int, requests: int
) -> None:
    ids = {api.create_stream({"name": f"s{i}"})["id"] for i in range(count)}
    sim.clear_log()
    assert {s["id"] for s in api.list_streams()} == ids
    assert sim.counters() == ({"GET /streaming/streams": requests})
    assert requests <= math.ceil(count / 25) + 1 + 7


def test_a_broadcast_create_with_an_empty_answer_is_found_by_listing() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, broadcast_create_returns_body=False))
    try:
        with client_for(sim) as api:
            sid = api.create_stream({"name": "cam"})["id"]
            api.create_broadcast({"name": "show", "status": "pending", "stream_ids": []})
            created = api.create_broadcast({"name": "show", "status": "live", "stream_ids": [sid]})
            assert created["name"] == "show" and created["stream_ids"] == [sid]
            assert created == api.get_broadcast(created["id"])
            assert max(b["id"] for b in api.list_broadcasts()) == created["id"]
    finally:
        sim.close()


def test_error_mapping_against_the_simulator(api: Any, sim: Any) -> None:
    with pytest.raises(NotFoundError, match=r"GET /streaming/streams/999999 -> 404"):
        api.get_stream(999999)
    with pytest.raises(ValidationFailed, match=r"POST /streaming/streams -> 422: .*name"):
        api.create_stream({"active": True})
    with (
        StreamingClient("http://s.invalid", "wrong-key", transport=sim.transport()) as bad,
        pytest.raises(AuthError, match="check GCORE_API_KEY") as caught,
    ):
        bad.list_streams()
    assert "wrong-key" not in str(caught.value)


def test_reads_and_idempotent_writes_survive_a_flaky_server(sim: Any) -> None:
    with client_for(sim, retries=8) as api:
        ids = [api.create_stream({"name": f"s{i}"})["id"] for i in range(30)]
        sim.set_faults(Faults(error_rate=0.3, seed=11))
        for sid in ids[:10]:
            api.update_stream(sid, {"name": "renamed", "dvr_enabled": True})
        for sid in ids[10:20]:
            api.delete_stream(sid)
        listed = api.list_streams()
        sim.set_faults(Faults())
        stats = api.stats()
    assert sorted(s["id"] for s in listed) == sorted(ids[:10] + ids[20:])
    assert [s["name"] for s in listed].count("renamed") == 10
    assert stats.retries > 0
    assert stats.retries == sum(1 for r in sim.requests() if r["status"] >= 500)


def test_a_create_whose_answer_is_lost_raises_ambiguous_and_is_not_repeated(sim: Any) -> None:
    with client_for(sim) as api:
        sim.set_faults(Faults(drop_create_rate=1.0, seed=1))
        with pytest.raises(AmbiguousCreate):
            api.create_stream({"name": "once"})
        sim.set_faults(Faults())
        assert [s["name"] for s in api.list_streams()] == ["once"]  # committed, exactly once
    assert sim.counters()["POST /streaming/streams"] == 1


def test_the_simulators_429_retry_after_is_honoured(sim: Any) -> None:
    limit = Faults(rate_limit_rps=1.0)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        sim.set_faults(limit)  # time passes for the simulator: its bucket refills

    with client_for(sim, sleep=sleep) as api:
        sim.set_faults(limit)
        api.create_stream({"name": "a"})  # takes the only token
        api.create_stream({"name": "b"})  # 429 Retry-After: 1, then accepted
    assert sleeps == [pytest.approx(1.0, abs=0.05)]  # the limiter's real clock moves a little
    statuses = [(r["method"], r["status"]) for r in sim.requests()]
    assert statuses == [("POST", 200), ("POST", 429), ("POST", 200)]
