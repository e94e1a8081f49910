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


def scripted_pages(fake: FakeAPI, sizes: dict[int, int]) -> list[int]:
    """Pages answer `sizes[page]` fresh objects (0 if absent); returns the pages served."""
    served: list[int] = []
    next_id = iter(range(1, 10_000))

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        served.append(page)
        return httpx.Response(200, json=[{"id": next(next_id)} for _ in range(sizes.get(page, 0))])

    for _ in range(20):
        fake.script("GET", "/streaming/streams", handler)
    return served


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_short_page_followed_by_more_objects_is_an_incomplete_read(
    fake: FakeAPI, concurrency: int
) -> None:
    served = scripted_pages(fake, {1: 25, 2: 10, 3: 25})
    with (
        fake.client(concurrency=concurrency) as api,
        pytest.raises(BadResponse, match="page 3 holds 25 objects after page 2 ended the list"),
    ):
        api.list_streams()
    # Page 3's ids are all newer than any read, as when the account grows under the read, so
    # page 2 is read again: it does not come back longer with its objects, so it was no growth.
    assert served == [1, 2, 3, 2]


def test_an_empty_page_after_a_full_one_before_the_expected_end_is_confirmed(
    fake: FakeAPI,
) -> None:
    served = scripted_pages(fake, {1: 25, 2: 0, 3: 25})
    with fake.client(concurrency=1) as api:
        api.expect_counts(streams=75, broadcasts=0)
        with pytest.raises(BadResponse, match="page 3 holds 25 objects after page 2 ended"):
            api.list_streams()
    assert served == [1, 2, 3, 2]  # page 2 read again: still empty, so it lied


def growing_listing(fake: FakeAPI, count: int, grow_after: dict[int, int]) -> list[int]:
    """An ascending listing of `count` streams; after page P is served (first time only),
    `grow_after[P]` streams are created, as another run creating during the read."""
    ids = list(range(1, count + 1))
    served: list[int] = []
    # Pages in flight together are answered in page order, so the growth lands between them.
    answered = {page: threading.Event() for page in range(1, 40)}
    answered[0] = threading.Event()
    answered[0].set()

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        answered[page - 1].wait(timeout=5)
        answer = [{"id": i} for i in ids[(page - 1) * 25 : page * 25]]
        if page not in served:
            ids.extend(range(ids[-1] + 1, ids[-1] + 1 + grow_after.get(page, 0)))
        served.append(page)
        answered[page].set()
        return httpx.Response(200, json=answer)

    for _ in range(30):
        fake.script("GET", "/streaming/streams", handler)
    return served


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_listing_that_grows_under_the_read_is_read_on_to_its_new_end(
    fake: FakeAPI, concurrency: int
) -> None:
    """Another run creates 10 streams while page 2 (20 of 45) is on its way: page 3 then holds 5
    objects after the page that ended the list. They are newer than any read, and page 2 comes
    back longer with what it held: the account grew, and the sweep reads on to the new end."""
    served = growing_listing(fake, 45, {2: 10})
    with fake.client(concurrency=concurrency) as api:
        assert [s["id"] for s in api.list_streams()] == list(range(1, 56))
    assert served == [1, 2, 3, 2, 3, 4]


def test_a_listing_that_keeps_growing_is_refused_after_three_rereads(fake: FakeAPI) -> None:
    served = growing_listing(fake, 45, {p: 25 for p in range(2, 12)})
    with (
        fake.client(concurrency=1) as api,
        pytest.raises(BadResponse, match="page 9 holds 20 objects after page 8 ended the list"),
    ):
        api.list_streams()
    # 25 streams appear after each page is first served: the end read again three times
    # (pages 2, 4 and 6 come back full), then the read is refused.
    assert served == [1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9]


def test_objects_after_the_end_that_are_not_newer_are_refused_at_once(fake: FakeAPI) -> None:
    """Page 3 repeats the ids of page 1: no growth can explain that; nothing is read again."""
    served: list[int] = []
    pages_by_number = {1: list(range(1, 26)), 2: list(range(26, 36)), 3: list(range(1, 6))}

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        served.append(page)
        return httpx.Response(200, json=[{"id": i} for i in pages_by_number.get(page, [])])

    for _ in range(10):
        fake.script("GET", "/streaming/streams", handler)
    with (
        fake.client(concurrency=1) as api,
        pytest.raises(BadResponse, match="page 3 holds 5 objects after page 2 ended the list"),
    ):
        api.list_streams()
    assert served == [1, 2, 3]


def test_an_account_smaller_than_expected_costs_one_confirming_page_more(fake: FakeAPI) -> None:
    served = scripted_pages(fake, {1: 25})
    with fake.client(concurrency=1) as api:
        api.expect_counts(streams=75, broadcasts=0)
        assert len(api.list_streams()) == 25
    assert served == [1, 2, 3]


def test_a_page_of_only_known_ids_stops_the_sweep(fake: FakeAPI) -> None:
    fake.add("streams", 25)

    def page_1_again(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=list(fake.objects["streams"].values()))

    for _ in range(20):
        fake.script("GET", "/streaming/streams", page_1_again)
    with (
        fake.client(concurrency=8) as api,
        pytest.raises(BadResponse, match=r"page 2 brings no object .* \(25 repeated\)"),
    ):
        api.list_streams()
    assert len(fake.log) == 3  # page 1, then the round of 2 and 3: stopped at page 2
