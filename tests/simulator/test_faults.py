"""Each fault of the simulator: latency, 5xx without side effects, 429 with Retry-After, and the
create that commits but loses its answer (in-process and over a real port)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from reconciler.simulator import Faults, Simulator, SimulatorConfig, start_server
from tests.simulator.helpers import KEY, client


def test_latency_overlaps_between_parallel_requests(sim: Simulator) -> None:
    sim.set_faults(Faults(latency_ms=50))
    with client(sim) as c:
        start = time.perf_counter()
        one = c.get("/streaming/streams")
        single = time.perf_counter() - start
        threads = [threading.Thread(target=c.get, args=("/streaming/streams",)) for _ in range(8)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel = time.perf_counter() - start
    assert one.status_code == 200 and single >= 0.05
    assert parallel < 0.05 * 4  # eight 50 ms requests overlap instead of queueing behind a lock


def test_error_rate_answers_5xx_without_side_effects(sim: Simulator) -> None:
    sim.set_faults(Faults(error_rate=0.5, seed=7))
    with client(sim) as c:
        statuses = [c.post("/streaming/streams", json={"name": f"s{i}"}).status_code
                    for i in range(40)]  # fmt: skip
        sim.set_faults(Faults())
        stored = c.get("/streaming/streams", params={"page": 1}).json()
        stored += c.get("/streaming/streams", params={"page": 2}).json()
    failed = [s for s in statuses if s >= 500]
    assert 5 < len(failed) < 35 and set(failed) <= {500, 502, 503}
    assert len(stored) == statuses.count(200)


def test_error_rate_is_reproducible_with_a_seed() -> None:
    runs = []
    for _ in range(2):
        sim = Simulator(SimulatorConfig(api_key=KEY, faults=Faults(error_rate=0.3, seed=42)))
        with client(sim) as c:
            runs.append([c.get("/streaming/streams").status_code for _ in range(30)])
        sim.close()
    assert runs[0] == runs[1] and 500 in {s // 100 * 100 for s in runs[0]}


def test_rate_limit_answers_429_with_retry_after(sim: Simulator) -> None:
    sim.set_faults(Faults(rate_limit_rps=5))
    with client(sim) as c:
        responses = [c.get("/streaming/streams") for _ in range(12)]
    limited = [r for r in responses if r.status_code == 429]
    assert [r.status_code for r in responses[:5]] == [200] * 5  # the bucket holds one second
    assert limited and all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    assert limited[0].json()["status"] == 429


def test_faults_never_touch_the_control_api(sim: Simulator) -> None:
    sim.set_faults(Faults(error_rate=1.0, rate_limit_rps=1))
    with client(sim) as c:
        assert all(c.get("/_simulator/counters").status_code == 200 for _ in range(5))
        assert c.get("/streaming/streams").status_code >= 500


def test_dropped_create_commits_then_raises_read_timeout(sim: Simulator) -> None:
    sim.set_faults(Faults(drop_create_rate=1.0))
    with client(sim) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/streaming/streams", json={"name": "ghost"})
    sim.set_faults(Faults())
    with client(sim) as c:
        assert [s["name"] for s in c.get("/streaming/streams").json()] == ["ghost"]
    assert sim.requests()[0]["dropped"] is True


def test_dropped_broadcast_create_commits_too(sim: Simulator) -> None:
    sim.set_faults(Faults(drop_create_rate=1.0))
    with client(sim) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/streaming/broadcasts", json={"broadcast": {"name": "b", "status": "pending"}})
    sim.set_faults(Faults())
    with client(sim) as c:
        assert len(c.get("/streaming/broadcasts").json()) == 1


@pytest.mark.port
def test_dropped_create_over_a_real_port_closes_the_connection(sim: Simulator) -> None:
    server = start_server(sim, host="127.0.0.1", port=0)
    try:
        sim.set_faults(Faults(drop_create_rate=1.0))
        headers = {"Authorization": f"APIKey {KEY}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=5) as c:
            with pytest.raises(httpx.RemoteProtocolError):
                c.post("/streaming/streams", json={"name": "ghost"})
            sim.set_faults(Faults())
            assert [s["name"] for s in c.get("/streaming/streams").json()] == ["ghost"]
    finally:
        server.stop()


def test_faults_set_at_start_and_over_the_control_api() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, faults=Faults(error_rate=1.0)))
    with client(sim) as c:
        assert c.get("/streaming/streams").status_code >= 500
        put = c.put("/_simulator/faults", json={"error_rate": 0, "rate_limit_rps": None})
        assert put.status_code == 200 and put.json()["error_rate"] == 0
        assert c.get("/streaming/streams").status_code == 200
        assert c.get("/_simulator/faults").json() == Faults().to_json()
        bad = c.put("/_simulator/faults", json={"error_rate": 2})
        assert bad.status_code == 400 and "error_rate" in bad.json()["error"]
        unknown = c.put("/_simulator/faults", json={"eror_rate": 0.1})
        assert unknown.status_code == 400 and "eror_rate" in unknown.json()["error"]
    sim.close()
