"""`StreamingClient.server_now()`: the platform's time from the `Date` of its answers, carried
forward by the monotonic clock: the highest lower bound the answers give (a Date has whole
seconds). An older Date, a proxy's error page or an unreadable Date does not move it."""

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


def answer(date: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"id": 1}, headers={"Date": date})


def test_server_now_follows_the_dates_of_the_answers() -> None:
    clock = Monotonic()
    answers = [
        answer("Wed, 02 Dec 2026 01:00:00 GMT"),
        answer("Wed, 02 Dec 2026 01:01:31 GMT"),  # 90.5 s later: a tighter bound
        answer("Wed, 02 Dec 2026 01:00:10 GMT"),  # an older Date (a slow answer): no step back
        answer("Fri, 01 Jan 2100 00:00:00 GMT", status=502),  # a proxy's clock
        answer("not a date"),
    ]
    api = StreamingClient(
        "http://api.invalid",
        "key-0123456789",
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
        settings=ClientSettings(rate_limit=None, retries=0),
        clock=clock,
    )
    assert api.server_now() is None  # nothing heard yet
    api.get_stream(1)
    clock.now += 90.5
    assert api.server_now() == datetime(2026, 12, 2, 1, 1, 30, 500000, tzinfo=UTC)
    api.get_stream(1)
    assert api.server_now() == datetime(2026, 12, 2, 1, 1, 31, tzinfo=UTC)
    clock.now += 2
    api.get_stream(1)
    with pytest.raises(ServerError):
        api.get_stream(1)
    api.get_stream(1)
    assert api.server_now() == datetime(2026, 12, 2, 1, 1, 33, tzinfo=UTC)
    api.close()
