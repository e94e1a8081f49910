"""Broadcast endpoints and the two-way link between broadcasts and streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.simulator import Simulator, SimulatorConfig
from tests.simulator.helpers import KEY, client, new_stream


@pytest.fixture
def c(sim: Simulator) -> Iterator[httpx.Client]:
    with client(sim) as http:
        yield http


def new_broadcast(c: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"broadcast": {"name": "b", "status": "pending", **fields}}
    response = c.post("/streaming/broadcasts", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_returns_object_with_id_and_links_stream(c: httpx.Client) -> None:
    stream = new_stream(c)
    broadcast = new_broadcast(c, stream_ids=[stream["id"]], pending_message="Please wait ...")
    assert broadcast["status"] == "pending"
    assert broadcast["stream_ids"] == [stream["id"]]
    assert broadcast["pending_message"] == "Please wait ..."
    assert c.get(f"/streaming/streams/{stream['id']}").json()["broadcast_ids"] == [broadcast["id"]]
    assert c.get(f"/streaming/broadcasts/{broadcast['id']}").json() == broadcast


def test_flat_create_is_accepted(c: httpx.Client) -> None:
    response = c.post("/streaming/broadcasts", json={"name": "flat", "status": "live"})
    assert response.status_code == 200 and response.json()["status"] == "live"


def test_empty_body_option_still_creates() -> None:
    sim = Simulator(SimulatorConfig(api_key=KEY, broadcast_create_returns_body=False))
    with client(sim) as c:
        response = c.post(
            "/streaming/broadcasts", json={"broadcast": {"name": "x", "status": "pending"}}
        )
        assert response.status_code == 200 and response.content == b""
        assert [b["name"] for b in c.get("/streaming/broadcasts").json()] == ["x"]
    sim.close()


def test_patch_statuses_and_stream_ids_keep_both_sides_consistent(c: httpx.Client) -> None:
    a, b = new_stream(c, name="a"), new_stream(c, name="b")
    broadcast = new_broadcast(c, stream_ids=[a["id"]])
    bid = broadcast["id"]
    for status in ("live", "paused", "finished"):
        got = c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"status": status}})
        assert got.status_code == 200 and got.json()["status"] == status
    moved = c.patch(f"/streaming/broadcasts/{bid}", json={"broadcast": {"stream_ids": [b["id"]]}})
    assert moved.json()["stream_ids"] == [b["id"]]
    assert moved.json()["name"] == "b"  # omitted fields unchanged
    assert c.get(f"/streaming/streams/{a['id']}").json()["broadcast_ids"] == []
    assert c.get(f"/streaming/streams/{b['id']}").json()["broadcast_ids"] == [bid]
    # and from the stream's side
    c.patch(f"/streaming/streams/{a['id']}", json={"stream": {"broadcast_ids": [bid]}})
    assert c.get(f"/streaming/broadcasts/{bid}").json()["stream_ids"] == [b["id"], a["id"]]


def test_delete_broadcast_unlinks_streams(c: httpx.Client) -> None:
    stream = new_stream(c)
    bid = new_broadcast(c, stream_ids=[stream["id"]])["id"]
    assert c.delete(f"/streaming/broadcasts/{bid}").status_code == 204
    assert c.get(f"/streaming/broadcasts/{bid}").status_code == 404
    assert c.get(f"/streaming/streams/{stream['id']}").json()["broadcast_ids"] == []


def test_delete_stream_removes_it_from_broadcasts(c: httpx.Client) -> None:
    a, b = new_stream(c), new_stream(c)
    bid = new_broadcast(c, stream_ids=[a["id"], b["id"]])["id"]
    c.delete(f"/streaming/streams/{a['id']}")
    assert c.get(f"/streaming/broadcasts/{bid}").json()["stream_ids"] == [b["id"]]


def test_validation(c: httpx.Client) -> None:
    no_status = c.post("/streaming/broadcasts", json={"broadcast": {"name": "x"}})
    assert no_status.status_code == 422
    assert no_status.json() == {"errors": {"status": ["can't be blank"]}}
    bad = c.post(
        "/streaming/broadcasts",
        json={"broadcast": {"name": "x", "status": "streaming", "stream_ids": [999]}},
    )
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"status"}
    unknown = c.post(
        "/streaming/broadcasts",
        json={"broadcast": {"name": "x", "status": "live", "stream_ids": [999]}},
    )
    assert unknown.status_code == 422 and "stream_ids" in unknown.json()["errors"]
    assert c.get("/streaming/broadcasts").json() == []


def test_list_pages_and_spectators(c: httpx.Client) -> None:
    ids = [new_broadcast(c, name=f"b{i}")["id"] for i in range(26)]
    page1 = c.get("/streaming/broadcasts", params={"page": 1}).json()
    page2 = c.get("/streaming/broadcasts", params={"page": 2}).json()
    assert [b["id"] for b in page1 + page2] == ids and len(page1) == 25
    assert c.get("/streaming/broadcasts", params={"page": 3}).json() == []
    spectators = c.get(f"/streaming/broadcasts/{ids[0]}/spectators")
    assert spectators.json() == {"spectators_count": 0}
    assert c.get("/streaming/broadcasts/1/spectators").status_code == 404
