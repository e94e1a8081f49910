"""`Simulator.create_many`: an account loaded in bulk is the account the same POSTs leave, outside
the request log; a refused body creates nothing and leaves pages, ids and the quota exact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client

VOLATILE = ("token", "push_url", "backup_push_url", "push_url_srt", "backup_push_url_srt")


def _streams(n: int) -> list[dict[str, Any]]:
    return [{"name": f"cam-{i}", "active": i % 2 == 0, "client_user_id": i} for i in range(n)]


def _broadcasts(stream_ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"broadcast": {"name": f"show-{i}", "status": "pending", "stream_ids": [sid]}}
        for i, sid in enumerate(stream_ids)
    ]


def _account(sim: Simulator) -> list[list[dict[str, Any]]]:
    """Every page of streams and of broadcasts, without the per-stream random token."""
    pages = []
    with client(sim) as c:
        for kind in ("streams", "broadcasts"):
            page = 1
            while True:
                items = c.get(f"/streaming/{kind}", params={"page": page}).json()
                pages.append([{k: v for k, v in o.items() if k not in VOLATILE} for o in items])
                if not items:
                    break
                page += 1
    return pages


def test_bulk_creates_leave_the_account_the_same_posts_leave() -> None:
    config = SimulatorConfig(api_key=KEY, start_time=datetime(2026, 1, 1, tzinfo=UTC))
    bulk, posted = Simulator(config), Simulator(config)
    stream_ids = bulk.create_many("streams", _streams(30))
    broadcast_ids = bulk.create_many("broadcasts", _broadcasts(stream_ids))
    with client(posted) as c:
        posted_ids = [c.post("/streaming/streams", json=b).json()["id"] for b in _streams(30)]
        for body in _broadcasts(posted_ids):
            assert c.post("/streaming/broadcasts", json=body).status_code == 200
    assert stream_ids == posted_ids == list(range(stream_ids[0], stream_ids[0] + 30))
    assert len(broadcast_ids) == 30
    assert _account(bulk) == _account(posted)  # 2 pages of streams, 2 of broadcasts, then []
    assert {r["method"] for r in bulk.requests()} == {"GET"}  # the reads above, not the creates
    bulk.close()
    posted.close()


def test_a_refused_body_creates_nothing_and_names_itself() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, active_stream_limit=3))
    with client(sim) as c:
        first = c.post("/streaming/streams", json={"name": "before", "active": True}).json()["id"]
    bodies = [{"name": "a", "active": True}, {"name": "b", "active": True}, {"name": "c"}]
    with pytest.raises(ValueError, match=r"streams\[3\] refused with 422 .*dvr_duration"):
        sim.create_many("streams", [*bodies, {"name": "d", "dvr_duration": 5}])
    with pytest.raises(ValueError, match=r"streams\[2\] refused with 422 .*limit"):
        sim.create_many("streams", [{"name": "x", "active": True}] * 3)
    with pytest.raises(ValueError, match=r"broadcasts\[0\] refused with 400"):
        sim.create_many("broadcasts", ["not an object"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="kind must be one of"):
        sim.create_many("videos", [])
    with client(sim) as c:
        assert [s["id"] for s in c.get("/streaming/streams").json()] == [first]
        second = c.post("/streaming/streams", json={"name": "after", "active": True}).json()
        third = c.post("/streaming/streams", json={"name": "last", "active": True}).json()
        over = c.post("/streaming/streams", json={"name": "over", "active": True})
        assert (second["id"], third["id"]) == (first + 1, first + 2)  # no id was used up
        assert over.status_code == 422  # the limit counts the 3 active streams, no more
        listed = [s["id"] for s in c.get("/streaming/streams").json()]
        assert listed == [first, first + 1, first + 2]
    sim.close()
