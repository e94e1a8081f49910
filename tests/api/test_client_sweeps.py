"""List sweeps: request counts, bounded concurrency, all-or-nothing, de-duplication."""

from __future__ import annotations

import math
import threading
import time

import httpx
import pytest
from conftest import FakeAPI

from reconciler.api import pages
from reconciler.api.client import ClientSettings, StreamingClient
from reconciler.errors import BadResponse, ServerError


@pytest.mark.parametrize(("count", "requests"), [(0, 1), (1, 2), (25, 3), (26, 3), (60, 4)])
def test_sweep_request_counts_with_pages_in_flight(
    fake: FakeAPI, count: int, requests: int
) -> None:
    fake.add("streams", count)
    with fake.client(concurrency=8) as api:
        streams = api.list_streams()
    assert sorted(s["id"] for s in streams) == sorted(fake.objects["streams"])
    assert len(fake.log) == requests
    # Never more than the lower bound plus concurrency - 1 empty pages.
    assert requests <= math.ceil(count / 25) + 1 + 7


@pytest.mark.parametrize("count", [0, 1, 25, 26, 60])
def test_sweep_one_page_at_a_time_costs_exactly_the_lower_bound(fake: FakeAPI, count: int) -> None:
    fake.add("broadcasts", count)
    with fake.client(concurrency=1) as api:
        assert len(api.list_broadcasts()) == count
    assert len(fake.log) == math.ceil(count / 25) + 1
    assert [r.url.params["page"] for r in fake.log] == [str(p) for p in range(1, len(fake.log) + 1)]


@pytest.mark.parametrize("count", [1000, 1001, 1024, 1049])
def test_large_sweeps_overshoot_by_less_than_the_concurrency(fake: FakeAPI, count: int) -> None:
    fake.add("streams", count)
    with fake.client(concurrency=8) as api:
        assert len(api.list_streams()) == count
    lower_bound = math.ceil(count / 25) + 1
    assert lower_bound <= len(fake.log) <= lower_bound + 7


def test_pages_are_fetched_concurrently_but_never_more_than_the_limit() -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.005)
        with lock:
            in_flight -= 1
        page = int(request.url.params["page"])
        items = [{"id": i} for i in range((page - 1) * 25, page * 25)] if page <= 40 else []
        return httpx.Response(200, json=items)

    client = StreamingClient(
        "http://sim",
        "k",
        transport=httpx.MockTransport(handler),
        settings=ClientSettings(rate_limit=None, concurrency=4),
    )
    with client:
        assert len(client.list_streams()) == 1000
    assert peak == 4


def test_a_page_that_fails_after_retries_fails_the_whole_sweep() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page == 3:
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(200, json=[{"id": page * 100 + i} for i in range(25)])

    client = StreamingClient(
        "http://sim",
        "k",
        transport=httpx.MockTransport(handler),
        settings=ClientSettings(rate_limit=None, retries=2, backoff_base=0.0),
    )
    with client, pytest.raises(ServerError, match=r"GET /streaming/streams -> 502.*3 attempts"):
        client.list_streams()
    assert client.stats()["GET /streaming/streams"] >= 3 + 2


def test_objects_shifted_by_a_create_during_the_sweep_are_listed_once(fake: FakeAPI) -> None:
    fake.add("streams", 30)
    served: list[int] = []

    def newest_first(request: httpx.Request) -> httpx.Response:
        # The listing is newest first; a stream is created right after page 1 is served, so
        # the last stream of page 1 appears again at the top of page 2.
        page = int(request.url.params["page"])
        served.append(page)
        if page == 2:
            fake.add("streams", 1)
        items = sorted(fake.objects["streams"].values(), key=lambda s: -s["id"])
        return httpx.Response(200, json=items[(page - 1) * 25 : page * 25])

    for _ in range(3):
        fake.script("GET", "/streaming/streams", newest_first)
    with fake.client(concurrency=1) as api:
        streams = api.list_streams()
    ids = [s["id"] for s in streams]
    assert len(ids) == len(set(ids)) == 30  # the original 30, each once
    assert served == [1, 2, 3]


def test_a_server_that_never_ends_the_list_is_a_bad_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pages, "MAX_PAGES", 12)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"id": int(request.url.params["page"])}] * 25)

    client = StreamingClient(
        "http://sim",
        "k",
        transport=httpx.MockTransport(handler),
        settings=ClientSettings(rate_limit=None),
    )
    with client, pytest.raises(BadResponse, match="did not end after 12 pages"):
        client.list_streams()


@pytest.mark.parametrize("count", [0, 1, 25, 26, 60, 1000, 1049])
def test_an_expected_size_that_is_right_costs_exactly_the_lower_bound(
    fake: FakeAPI, count: int
) -> None:
    fake.add("streams", count)
    with fake.client(concurrency=8) as api:
        api.expect_counts(streams=count, broadcasts=0)
        assert len(api.list_streams()) == count
    assert len(fake.log) == math.ceil(count / 25) + 1


@pytest.mark.parametrize(("count", "expected"), [(1049, 500), (1049, 1), (60, 30)])
def test_more_objects_than_expected_are_all_read_within_the_concurrency(
    fake: FakeAPI, count: int, expected: int
) -> None:
    fake.add("streams", count)
    with fake.client(concurrency=8) as api:
        api.expect_counts(streams=expected, broadcasts=0)
        assert sorted(s["id"] for s in api.list_streams()) == sorted(fake.objects["streams"])
    lower_bound = math.ceil(count / 25) + 1
    assert lower_bound <= len(fake.log) <= lower_bound + 7


@pytest.mark.parametrize(("count", "expected"), [(0, 2000), (60, 2000), (1000, 1049)])
def test_fewer_objects_than_expected_end_at_the_first_empty_page(
    fake: FakeAPI, count: int, expected: int
) -> None:
    fake.add("streams", count)
    with fake.client(concurrency=8) as api:
        api.expect_counts(streams=expected, broadcasts=0)
        assert len(api.list_streams()) == count
    lower_bound = math.ceil(count / 25) + 1
    assert lower_bound <= len(fake.log) <= lower_bound + 7


def test_the_next_sweep_expects_what_the_last_one_found(fake: FakeAPI) -> None:
    fake.add("broadcasts", 1000)
    with fake.client(concurrency=8) as api:
        api.list_broadcasts()  # no expectation: rounds of 1, 2, 4, 8 pages
        first = len(fake.log)
        api.list_broadcasts()
    assert first > 41  # the rounds overshot the end
    assert len(fake.log) - first == 41
