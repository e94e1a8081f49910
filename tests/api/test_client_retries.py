"""Retries: what is retried, how long we wait, and what is never retried (creates)."""

from __future__ import annotations

import random
import time
from email.utils import formatdate

import httpx
import pytest
from conftest import API_KEY, FakeAPI

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import (
    AmbiguousCreate,
    NotFoundError,
    RateLimited,
    ServerError,
    Unreachable,
    ValidationFailed,
)


def test_get_is_retried_on_5xx_and_succeeds(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    path = f"/streaming/streams/{sid}"
    fake.script("GET", path, httpx.Response(500), httpx.Response(503, text="maintenance"))
    with fake.client() as api:
        assert api.get_stream(sid)["id"] == sid
        assert api.stats().retries == 2
    assert fake.calls() == [f"GET {path}"] * 3


def test_patch_is_retried_on_timeout_and_connection_errors(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    path = f"/streaming/streams/{sid}"
    fake.script("PATCH", path, httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("cut"))
    with fake.client() as api:
        assert api.update_stream(sid, {"name": "new"})["name"] == "new"
    assert fake.calls() == [f"PATCH {path}"] * 3


def test_a_delete_answered_404_on_a_retry_counts_as_done(fake: FakeAPI) -> None:
    (sid,) = fake.add("streams", 1)
    path = f"/streaming/streams/{sid}"

    def delete_then_fail(request: httpx.Request) -> httpx.Response:
        del fake.objects["streams"][sid]  # the server deleted it, then the answer was lost
        return httpx.Response(504, text="gateway timeout")

    fake.script("DELETE", path, delete_then_fail)
    with fake.client() as api:
        api.delete_stream(sid)  # no error: the second attempt's 404 means done
    assert fake.calls() == [f"DELETE {path}"] * 2
    assert sid not in fake.objects["streams"]


def test_a_delete_answered_404_at_once_is_not_found(fake: FakeAPI) -> None:
    with fake.client() as api, pytest.raises(NotFoundError, match="DELETE /streaming/videos/9"):
        api.delete_video(9)


def test_a_delete_404_after_a_429_is_still_not_found(fake: FakeAPI) -> None:
    # A 429 means the server did nothing, so a 404 afterwards is a real "not found".
    fake.script("DELETE", "/streaming/broadcasts/9", httpx.Response(429))
    with fake.client() as api, pytest.raises(NotFoundError):
        api.delete_broadcast(9)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(504),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped after sending"),
        httpx.ReadError("reset"),
    ],
    ids=["500", "502", "504", "read-timeout", "dropped", "read-error"],
)
def test_a_create_is_never_retried_after_an_ambiguous_failure(
    fake: FakeAPI, failure: httpx.Response | Exception
) -> None:
    fake.script("POST", "/streaming/streams", failure)
    with fake.client() as api, pytest.raises(AmbiguousCreate) as caught:
        api.create_stream({"name": "studio"})
    assert fake.calls() == ["POST /streaming/streams"]
    assert str(caught.value).startswith("POST /streaming/streams")
    assert "look for it before creating again" in str(caught.value)


def test_a_broadcast_create_is_not_retried_either(fake: FakeAPI) -> None:
    fake.script("POST", "/streaming/broadcasts", httpx.Response(503))
    with fake.client() as api, pytest.raises(AmbiguousCreate):
        api.create_broadcast({"name": "b", "status": "pending"})
    assert fake.calls() == ["POST /streaming/broadcasts"]


def test_a_create_that_never_reached_the_server_is_retried(fake: FakeAPI) -> None:
    fake.script("POST", "/streaming/streams", httpx.ConnectError("refused"))
    with fake.client() as api:
        api.create_stream({"name": "studio"})
    assert fake.calls() == ["POST /streaming/streams"] * 2
    assert len(fake.objects["streams"]) == 1


def test_a_create_answered_429_is_retried_after_retry_after(fake: FakeAPI) -> None:
    fake.script("POST", "/streaming/streams", httpx.Response(429, headers={"Retry-After": "3"}))
    sleeps: list[float] = []
    with fake.client(sleeps) as api:
        api.create_stream({"name": "studio"})
    assert sleeps == [3.0]
    assert fake.calls() == ["POST /streaming/streams"] * 2
    assert len(fake.objects["streams"]) == 1


def test_retry_after_as_an_http_date_is_honoured(fake: FakeAPI) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    fake.script("GET", "/streaming/streams", httpx.Response(429, headers={"Retry-After": when}))
    sleeps: list[float] = []
    with fake.client(sleeps) as api:
        api.list_streams()
    assert len(sleeps) == 1
    assert 27.0 < sleeps[0] <= 30.0


def test_a_huge_retry_after_is_capped(fake: FakeAPI) -> None:
    fake.script("GET", "/streaming/streams", httpx.Response(429, headers={"Retry-After": "86400"}))
    sleeps: list[float] = []
    with fake.client(sleeps) as api:
        api.list_streams()
    assert sleeps == [60.0]


def test_persistent_429_becomes_rate_limited_after_twice_the_retries(fake: FakeAPI) -> None:
    # A 429 is safe to retry and the limit is shared by every thread: a larger budget.
    fake.script("GET", "/streaming/broadcasts", *[httpx.Response(429)] * 5)
    with fake.client(retries=2) as api, pytest.raises(RateLimited, match="after 5 attempts"):
        api.list_broadcasts()
    assert api.stats().rate_limited == 5


def test_429s_do_not_use_up_the_budget_for_server_errors(fake: FakeAPI) -> None:
    answers = [httpx.Response(429), httpx.Response(500), httpx.Response(429), httpx.Response(502)]
    fake.script("GET", "/streaming/streams/1", *answers)
    with fake.client(retries=2) as api, pytest.raises(NotFoundError):
        api.get_stream(1)
    assert len(fake.log) == 5  # 2 throttled + 2 failed + the final 404 of the fake


def test_persistent_5xx_becomes_server_error_with_the_api_message(fake: FakeAPI) -> None:
    answer = httpx.Response(500, json={"error": "database unavailable"})
    fake.script("PATCH", "/streaming/broadcasts/4", *[answer] * 5)
    with fake.client() as api, pytest.raises(ServerError) as caught:
        api.update_broadcast(4, {"name": "b"})
    assert str(caught.value) == (
        "PATCH /streaming/broadcasts/4 -> 500: server error after 5 attempts: database unavailable"
    )


def test_persistent_timeouts_become_unreachable(fake: FakeAPI) -> None:
    fake.script("PUT", "/streaming/streams/4/start_recording", *[httpx.ReadTimeout("t")] * 2)
    with fake.client(retries=1) as api, pytest.raises(Unreachable) as caught:
        api.start_recording(4)
    assert str(caught.value) == (
        "PUT /streaming/streams/4/start_recording: timed out waiting for the answer after 2 "
        "attempts; check GCORE_BASE_URL and the network"
    )


def test_client_errors_are_not_retried(fake: FakeAPI) -> None:
    fake.script("PATCH", "/streaming/streams/4", httpx.Response(422, json={"errors": {"x": ["y"]}}))
    with fake.client() as api, pytest.raises(ValidationFailed):
        api.update_stream(4, {"name": "b"})
    assert len(fake.log) == 1


def test_backoff_is_exponential_with_full_jitter_and_capped(fake: FakeAPI) -> None:
    fake.script("GET", "/streaming/streams/1", *[httpx.Response(503)] * 7)
    sleeps: list[float] = []
    client = StreamingClient(
        "https://api.example.test",
        API_KEY,
        transport=fake.transport(),
        settings=ClientSettings(rate_limit=None, retries=6, backoff_base=0.5, backoff_max=4.0),
        sleep=sleeps.append,
        rng=random.Random(7),
    )
    with client, pytest.raises(ServerError):
        client.get_stream(1)
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == 6
    assert all(0 <= s <= c for s, c in zip(sleeps, ceilings, strict=True))
    assert sleeps[3] > 1.0 or sleeps[4] > 1.0 or sleeps[5] > 1.0  # it does grow
