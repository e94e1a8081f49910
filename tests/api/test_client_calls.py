"""Each call's path, method, body wrapping, headers and answer handling (scripted fake API)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from conftest import API_KEY, FakeAPI

from reconciler.api.client import StreamingClient
from reconciler.errors import (
    AmbiguousCreate,
    ApiError,
    AuthError,
    BadResponse,
    ConfigError,
    NotFoundError,
    ValidationFailed,
)


def test_every_write_is_wrapped_as_the_official_sdk_sends_it(fake: FakeAPI) -> None:
    with fake.client() as api:
        stream = api.create_stream({"name": "studio-a", "active": False})
        api.update_stream(stream["id"], {"name": "studio-a", "active": True})
        broadcast = api.create_broadcast({"name": "show", "status": "pending", "stream_ids": [1]})
        api.update_broadcast(broadcast["id"], {"name": "show", "status": "live"})
        api.start_recording(stream["id"])
        api.stop_recording(stream["id"])
        api.delete_broadcast(broadcast["id"])
        api.delete_stream(stream["id"])
    sid, bid = stream["id"], broadcast["id"]
    assert fake.calls() == [
        "POST /streaming/streams",
        f"PATCH /streaming/streams/{sid}",
        "POST /streaming/broadcasts",
        f"PATCH /streaming/broadcasts/{bid}",
        f"PUT /streaming/streams/{sid}/start_recording",
        f"PUT /streaming/streams/{sid}/stop_recording",
        f"DELETE /streaming/broadcasts/{bid}",
        f"DELETE /streaming/streams/{sid}",
    ]
    assert fake.bodies() == [
        {"name": "studio-a", "active": False},  # create stream: FLAT
        {"stream": {"name": "studio-a", "active": True}},
        {"broadcast": {"name": "show", "status": "pending", "stream_ids": [1]}},
        {"broadcast": {"name": "show", "status": "live"}},
        None,  # recording PUTs carry no body
        None,
        None,
        None,
    ]


def test_requests_carry_the_api_key_header_and_a_user_agent(fake: FakeAPI) -> None:
    with fake.client() as api:
        api.list_streams()
    request = fake.log[0]
    assert request.headers["authorization"] == f"APIKey {API_KEY}"
    assert request.headers["user-agent"].startswith("reconciler/")
    assert str(request.url) == "https://api.example.test/streaming/streams?page=1"


def test_base_url_with_a_trailing_slash_and_a_prefix_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=[])

    client = StreamingClient("http://127.0.0.1:9/gw/", "k", transport=httpx.MockTransport(handler))
    with client:
        client.list_broadcasts()
    assert seen[0] == "http://127.0.0.1:9/gw/streaming/broadcasts?page=1"


@pytest.mark.parametrize("key", ["", "  ", "a\nb", "k\u00e9y"])
def test_a_missing_or_broken_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match="GCORE_API_KEY"):
        StreamingClient("https://api.gcore.com", key)


def test_a_base_url_that_is_not_http_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="GCORE_BASE_URL"):
        StreamingClient("api.gcore.com", "k")


def test_start_recording_accepts_200_with_warnings_and_204(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    path = f"/streaming/streams/{sid}/start_recording"
    fake.script("PUT", path, httpx.Response(200, json={"data": {}, "warnings": [], "errors": []}))
    with fake.client() as api:
        api.start_recording(sid)
        api.start_recording(sid)  # the default answer: 204
    assert fake.calls() == [f"PUT {path}"] * 2


def test_stop_recording_returns_the_new_video_or_none(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    path = f"/streaming/streams/{sid}/stop_recording"
    video = {"id": 7, "name": "Stream Record: s", "stream_id": sid, "status": "pending"}
    fake.script("PUT", path, httpx.Response(200, json=video), httpx.Response(200))
    with fake.client() as api:
        assert api.stop_recording(sid) == video
        assert api.stop_recording(sid) is None


def test_create_broadcast_with_an_empty_answer_finds_the_newest_match(fake: FakeAPI) -> None:
    fake.broadcast_body = False
    fake.add("broadcasts", 1, name="show", stream_ids=[5])  # an older namesake
    fake.add("broadcasts", 1, name="show", stream_ids=[9])  # same name, other streams
    with fake.client() as api:
        created = api.create_broadcast({"name": "show", "status": "pending", "stream_ids": [5]})
    newest = max(fake.objects["broadcasts"])
    assert created == {"id": newest, "name": "show", "status": "pending", "stream_ids": [5]}
    assert fake.calls() == [
        "POST /streaming/broadcasts",
        "GET /streaming/broadcasts",  # page 1: three broadcasts
        "GET /streaming/broadcasts",  # page 2: [] (the end)
    ]


def test_create_broadcast_empty_answer_and_not_listed_is_ambiguous(fake: FakeAPI) -> None:
    fake.script("POST", "/streaming/broadcasts", httpx.Response(200))
    with fake.client() as api, pytest.raises(AmbiguousCreate, match="not in the list"):
        api.create_broadcast({"name": "ghost", "status": "pending", "stream_ids": []})


def test_create_stream_without_a_body_is_ambiguous(fake: FakeAPI) -> None:
    fake.script("POST", "/streaming/streams", httpx.Response(200))
    with fake.client() as api, pytest.raises(AmbiguousCreate):
        api.create_stream({"name": "x"})


def test_broadcast_answers_without_id_get_the_id_from_the_path(fake: FakeAPI) -> None:
    fake.script(
        "GET", "/streaming/broadcasts/42", httpx.Response(200, json={"name": "b", "status": "live"})
    )
    with fake.client() as api:
        assert api.get_broadcast(42) == {"name": "b", "status": "live", "id": 42}


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"error": "Invalid token"}, AuthError, "Invalid token; check GCORE_API_KEY"),
        (403, b"", AuthError, "lacks the rights; check GCORE_API_KEY"),
        (404, {"status": 404, "error": "Stream not found"}, NotFoundError, "Stream not found"),
        (
            422,
            {"errors": {"name": ["can't be blank"], "dvr_duration": ["is too big", "must be int"]}},
            ValidationFailed,
            "name: can't be blank; dvr_duration: is too big, must be int",
        ),
        (418, b"teapot", BadResponse, "unexpected answer: teapot"),
    ],
)
def test_errors_are_mapped_and_name_the_call_and_the_api_message(
    fake: FakeAPI, status: int, body: object, error: type[ApiError], text: str
) -> None:
    answer = (
        httpx.Response(status, content=body)
        if isinstance(body, bytes)
        else httpx.Response(status, json=body)
    )
    fake.script("PATCH", "/streaming/streams/123", answer)
    with fake.client() as api, pytest.raises(error) as caught:
        api.update_stream(123, {"name": "x"})
    message = str(caught.value)
    assert message.startswith(f"PATCH /streaming/streams/123 -> {status}: ")
    assert text in message
    assert caught.value.status == status


def test_the_key_never_appears_in_messages_repr_or_logs(
    fake: FakeAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:  # a server that echoes our headers
        return httpx.Response(401, text=f"bad header {request.headers['authorization']}")

    fake.script("GET", "/streaming/streams/1", echo)
    fake.script("GET", "/streaming/streams/2", httpx.Response(503, text=API_KEY))
    fake.script("GET", "/streaming/streams/2", httpx.ConnectError(f"boom {API_KEY}"))
    caplog.set_level(logging.DEBUG)
    with fake.client(retries=1) as api:
        assert API_KEY not in repr(api)
        with pytest.raises(AuthError) as first:
            api.get_stream(1)
        with pytest.raises(ApiError) as second:
            api.get_stream(2)
    for text in (str(first.value), str(second.value), caplog.text):
        assert API_KEY not in text
    assert "bad header APIKey ***" in str(first.value)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (httpx.Response(200, text="<html>oops</html>"), "not JSON"),
        (httpx.Response(200, json={"streams": []}), "expected a JSON array"),
        (httpx.Response(200, json=[{"name": "no id"}]), "integer id"),
        (httpx.Response(200, json=[{"id": "7"}]), "integer id"),
        (httpx.Response(200, json=[3]), "integer id"),
    ],
)
def test_list_pages_of_the_wrong_shape_are_bad_responses(
    fake: FakeAPI, answer: httpx.Response, text: str
) -> None:
    fake.script("GET", "/streaming/streams", answer)
    with fake.client() as api, pytest.raises(BadResponse, match=text) as caught:
        api.list_streams()
    assert str(caught.value).startswith("GET /streaming/streams")


@pytest.mark.parametrize(
    "answer", [httpx.Response(200, json=[1, 2]), httpx.Response(200, json={"name": "x"})]
)
def test_created_objects_must_be_objects_with_an_id(fake: FakeAPI, answer: httpx.Response) -> None:
    fake.script("POST", "/streaming/streams", answer)
    with fake.client() as api, pytest.raises(BadResponse, match="POST /streaming/streams"):
        api.create_stream({"name": "x"})


def test_stats_count_requests_per_route(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    with fake.client() as api:
        api.get_stream(sid)
        api.update_stream(sid, {"name": "y"})
        api.update_stream(sid, {"name": "z"})
        api.list_streams()
        stats = api.stats()
    assert dict(stats.requests) == {
        "GET /streaming/streams": 2,  # one stream: page 1, then the empty page 2
        "GET /streaming/streams/{id}": 1,
        "PATCH /streaming/streams/{id}": 2,
    }
    assert stats.total == 5
    assert stats.by_method() == {"GET": 3, "PATCH": 2}
    assert stats["PATCH /streaming/streams/{id}"] == 2
    assert stats.retries == 0


def test_list_videos_of_one_stream_sends_per_page_and_stream_id(fake: FakeAPI) -> None:
    fake.add("videos", 3, stream_id=5)
    fake.add("videos", 2, stream_id=6)
    with fake.client() as api:
        videos = api.list_videos(stream_id=5)
    assert len(videos) == 3
    assert {v["stream_id"] for v in videos} == {5}
    assert fake.log[0].url.params["per_page"] == "100"
    assert fake.log[0].url.params["stream_id"] == "5"
    assert json.loads(fake.log[0].url.params["page"]) == 1


def test_a_patch_answered_204_returns_what_was_sent(fake: FakeAPI) -> None:
    fake.script("PATCH", "/streaming/broadcasts/8", httpx.Response(204))
    with fake.client() as api:
        assert api.update_broadcast(8, {"name": "b", "status": "live"}) == {
            "name": "b",
            "status": "live",
            "id": 8,
        }
