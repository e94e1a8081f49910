"""`StreamingClient.server_now()`: the platform's time from the `Date` of its answers, carried
forward by the monotonic clock; a proxy's error page or an unreadable Date does not set it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import ServerError


class Monotonic:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def client(answers: list[httpx.Response], clock: Monotonic) -> StreamingClient:
    def handle(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    return StreamingClient(
        "http://api.invalid",
        "key-0123456789",
        transport=httpx.MockTransport(handle),
        settings=ClientSettings(rate_limit=None, retries=0),
        clock=clock,
    )


def test_server_now_is_the_latest_date_plus_the_time_elapsed_since() -> None:
    clock = Monotonic()
    api = client(
        [
            httpx.Response(200, json={"id": 1}, headers={"Date": "Wed, 02 Dec 2026 01:00:00 GMT"}),
            httpx.Response(502, text="bad gateway", headers={"Date": "Fri, 01 Jan 2100 0:0:0 GMT"}),
            httpx.Response(200, json={"id": 1}, headers={"Date": "not a date"}),
        ],
        clock,
    )
    assert api.server_now() is None  # nothing heard yet
    api.get_stream(1)
    clock.now += 90.5
    assert api.server_now() == datetime(2026, 12, 2, 1, 1, 30, 500000, tzinfo=UTC)
    with pytest.raises(ServerError):
        api.get_stream(1)  # a proxy's 502 carries the proxy's clock
    api.get_stream(1)  # an unreadable Date
    assert api.server_now() == datetime(2026, 12, 2, 1, 1, 30, 500000, tzinfo=UTC)
    api.close()
