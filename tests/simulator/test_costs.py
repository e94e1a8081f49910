"""What one request costs the simulator as the account grows: a create and a page read do the same
SQLite work at 100 and at 1,000 objects (no scan of every stream per create, no walk over the
skipped rows per page). Counted in SQLite virtual-machine steps, never timed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client


@contextmanager
def account(n: int) -> Iterator[tuple[Simulator, httpx.Client]]:
    """A simulator holding n active streams and n broadcasts, one per stream."""
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=n + 10))
    with client(sim) as c:
        for i in range(n):
            sid = c.post("/streaming/streams", json={"name": f"s{i}", "active": True}).json()["id"]
            body = {"name": f"b{i}", "status": "pending", "stream_ids": [sid]}
            assert c.post("/streaming/broadcasts", json=body).status_code == 200
        yield sim, c
    sim.close()


def sqlite_steps(sim: Simulator, request: Callable[[], httpx.Response]) -> int:
    """SQLite VM instructions one request runs (the store's connection, counted one by one)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # 0: go on

    db: Any = sim._store._db  # the work is inside SQLite: only its own counter sees it
    db.set_progress_handler(count, 1)
    try:
        assert request().status_code == 200
    finally:
        db.set_progress_handler(None, 1)
    return steps


def costs(n: int) -> dict[str, int]:
    with account(n) as (sim, c):
        last = n // 25 + 1  # the last page, short or empty
        stream = {"name": "new", "active": True}
        return {
            "create an active stream": sqlite_steps(
                sim, lambda: c.post("/streaming/streams", json=stream)
            ),
            "first page of streams": sqlite_steps(
                sim, lambda: c.get("/streaming/streams", params={"page": 1})
            ),
            "last page of streams": sqlite_steps(
                sim, lambda: c.get("/streaming/streams", params={"page": last})
            ),
            "a middle page of broadcasts": sqlite_steps(
                sim, lambda: c.get("/streaming/broadcasts", params={"page": last // 2})
            ),
        }


@pytest.fixture(scope="module")
def small_and_large() -> tuple[dict[str, int], dict[str, int]]:
    return costs(100), costs(1000)


@pytest.mark.parametrize(
    "what",
    [
        "create an active stream",
        "first page of streams",
        "last page of streams",
        "a middle page of broadcasts",
    ],
)
def test_a_request_costs_the_same_at_ten_times_the_objects(
    small_and_large: tuple[dict[str, int], dict[str, int]], what: str
) -> None:
    small, large = small_and_large
    assert small[what] > 0
    # B-tree descents are one step each, whatever the depth: linear work would be ~10x here.
    assert large[what] <= small[what] * 1.5, (what, small[what], large[what])
