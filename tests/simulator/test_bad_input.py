"""Bad input gets a clear 4xx in the API's error shape, never a 500, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.simulator import Simulator
from tests.simulator.helpers import client, new_stream


@pytest.fixture
def c(sim: Simulator) -> Iterator[httpx.Client]:
    with client(sim) as http:
        yield http


def state(c: httpx.Client) -> tuple[object, ...]:
    return tuple(c.get(f"/streaming/{kind}").json() for kind in ("streams", "broadcasts", "videos"))


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/streaming/streams", b'{"name": "x",'),
        ("POST", "/streaming/streams", b"[1, 2]"),
        ("POST", "/streaming/streams", b"\xff\xfe"),
        ("POST", "/streaming/streams", b"[" * 100_000),
        ("PATCH", "/streaming/streams/{id}", b"not json"),
        ("POST", "/streaming/broadcasts", b'"just a string"'),
    ],
)
def test_malformed_bodies_are_400(c: httpx.Client, method: str, path: str, content: bytes) -> None:
    sid = new_stream(c)["id"]
    before = state(c)
    response = c.request(method, path.format(id=sid), content=content)
    assert response.status_code == 400
    assert response.json()["status"] == 400 and response.json()["error"]
    assert state(c) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 5}, "name"),
        ({"name": "x", "active": "yes"}, "active"),
        ({"name": "x", "dvr_duration": "60"}, "dvr_duration"),
        ({"name": "x", "dvr_duration": 14401}, "dvr_duration"),
        ({"name": "x", "client_user_id": 2**64}, "client_user_id"),
        ({"name": "x", "record_type": "both"}, "record_type"),
        ({"name": "x", "broadcast_ids": "1"}, "broadcast_ids"),
        ({"name": "x", "broadcast_ids": [123]}, "broadcast_ids"),
        ({"name": "x", "srt_passphrase": "short"}, "srt_passphrase"),
        ({"name": "x", "srt_passphrase": "has spaces in it"}, "srt_passphrase"),
        ({"name": "x", "transcoding_region": "Not A Region"}, "transcoding_region"),
        ({"stream": "x"}, "stream"),
        ({"stream": {"active": True}}, "name"),
    ],
)
def test_wrong_types_are_422_with_field_errors(
    c: httpx.Client, body: dict[str, object], field: str
) -> None:
    before = state(c)
    response = c.post("/streaming/streams", json=body)
    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert state(c) == before


def test_failed_patch_changes_nothing(c: httpx.Client) -> None:
    stream = new_stream(c, name="keep")
    response = c.patch(
        f"/streaming/streams/{stream['id']}",
        json={"stream": {"name": "changed", "projection": "cube"}},
    )
    assert response.status_code == 422 and list(response.json()["errors"]) == ["projection"]
    assert c.get(f"/streaming/streams/{stream['id']}").json()["name"] == "keep"
    blank = c.patch(f"/streaming/streams/{stream['id']}", json={"stream": {"name": "  "}})
    assert blank.json() == {"errors": {"name": ["can't be blank"]}}


def test_unknown_fields_are_ignored_as_the_platform_does(c: httpx.Client) -> None:
    stream = new_stream(c, webrtc=False, id=1, token="mine", live=True)
    assert stream["id"] != 1 and stream["token"] != "mine" and stream["live"] is False
    assert "webrtc" not in stream


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/streaming/nothing", 404),
        ("GET", "/streaming/streams/abc", 404),
        ("GET", "/streaming/streams/1/unknown", 404),
        ("GET", "/streaming/streams/99999999999999999999999", 404),
        ("GET", "/streaming/streams/٣", 404),
        ("GET", "/elsewhere", 404),
        ("POST", "/streaming/streams/1", 405),
        ("PUT", "/streaming/streams", 405),
        ("DELETE", "/streaming/broadcasts", 405),
        ("PATCH", "/streaming/videos/1", 405),
        ("FETCH", "/streaming/streams", 405),
    ],
)
def test_unknown_paths_and_methods(c: httpx.Client, method: str, path: str, status: int) -> None:
    response = c.request(method, path)
    assert response.status_code == status
    assert response.json()["status"] == status and response.json()["error"]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", str(2**31), "9" * 40])
def test_bad_page_numbers_are_400(c: httpx.Client, page: str) -> None:
    for kind in ("streams", "broadcasts", "videos"):
        response = c.get(f"/streaming/{kind}", params={"page": page})
        assert response.status_code == 400 and "page" in response.json()["error"]


def test_huge_but_valid_page_is_empty(c: httpx.Client) -> None:
    new_stream(c)
    assert c.get("/streaming/streams", params={"page": 2**31 - 1}).json() == []


def test_bad_video_filters_are_400(c: httpx.Client) -> None:
    for params in ({"per_page": "0"}, {"per_page": "5000"}, {"stream_id": "x"},
                   {"status": "done"}):  # fmt: skip
        assert c.get("/streaming/videos", params=params).status_code == 400


def test_oversized_body_is_413(c: httpx.Client) -> None:
    before = state(c)
    response = c.post("/streaming/streams", json={"name": "x" * 2_000_000})
    assert response.status_code == 413 and response.json()["status"] == 413
    assert state(c) == before


def test_404_for_unknown_ids_on_every_id_route(c: httpx.Client) -> None:
    for method, path in [
        ("GET", "/streaming/streams/7"), ("PATCH", "/streaming/streams/7"),
        ("DELETE", "/streaming/streams/7"), ("PUT", "/streaming/streams/7/start_recording"),
        ("PUT", "/streaming/streams/7/stop_recording"), ("PUT", "/streaming/streams/7/dvr_cleanup"),
        ("GET", "/streaming/broadcasts/7"), ("PATCH", "/streaming/broadcasts/7"),
        ("DELETE", "/streaming/broadcasts/7"), ("GET", "/streaming/videos/7"),
        ("DELETE", "/streaming/videos/7"),
    ]:  # fmt: skip
        response = c.request(method, path, json={})
        assert response.status_code == 404, (method, path)
        assert response.json()["status"] == 404


def test_control_api_bad_input(c: httpx.Client) -> None:
    assert c.post("/_simulator/streams/5/connect").status_code == 404
    sid = new_stream(c)["id"]
    assert c.post(f"/_simulator/streams/{sid}/connect", json={"backup": "no"}).status_code == 400
    assert c.post("/_simulator/clock/advance", json={"seconds": -1}).status_code == 400
    assert c.post("/_simulator/clock/advance", content=b"{").status_code == 400
    assert c.get("/_simulator/nothing").status_code == 404
    interrupt = c.post(f"/_simulator/streams/{sid}/interrupt", json={"seconds": 3})
    assert interrupt.status_code == 422  # no encoder connected
