"""List sweeps: fetch pages 1, 2, ... until an empty page, several pages in flight at once.

With an expected size (the manifests' count, or what the last sweep of that kind found), page 1
goes alone and, when full, the pages the expected objects fill go out `concurrency` at a time,
then pages one by one, in rounds of 1, 2, 4, ...: an account of the expected size costs exactly
ceil(N/size) + 1 requests. Without one, rounds of 1, 2, 4, ... up to `concurrency` pages; a round
that ends on a short page is followed by a single page to confirm the end (the API promises no
total count, only an empty page past the end): at most concurrency - 1 empty pages more. Any
failed page fails the whole sweep: never a partial list.
Knows nothing of HTTP; it is given a function that fetches one page.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from reconciler.errors import BadResponse

Json = dict[str, Any]

DEFAULT_PAGE_SIZE = 25  # the API's page size for streams and broadcasts (not documented)
MAX_PAGES = 20_000  # 500,000 objects: a server that never answers [] must not loop forever


def sweep(
    fetch: Callable[[int], list[Json]],
    *,
    executor: Executor | None,
    concurrency: int,
    page_size: int = DEFAULT_PAGE_SIZE,
    what: str = "objects",
    expected: int = 0,
) -> list[Json]:
    """All objects of all pages in page order, de-duplicated by id (first occurrence wins).

    `fetch(page)` returns the page's objects (each a dict with an `id`) or raises. `expected` is
    how many objects there probably are (0: unknown); it only changes how many pages go out at
    once, never where the sweep ends.
    """
    seen: dict[Any, Json] = {}
    page = 1
    round_size = 1
    largest = page_size
    expected_pages = -(-expected // page_size)  # pages the expected objects fill
    while True:
        if page > MAX_PAGES:
            raise BadResponse(f"listing {what} did not end after {MAX_PAGES} pages")
        if 1 < page <= expected_pages:
            round_size = min(concurrency, expected_pages - page + 1)
        elif page == expected_pages + 1 > 1:
            round_size = 1  # past the expected size: probe the end before widening again
        numbers = list(range(page, page + round_size))
        results = _fetch_round(fetch, numbers, executor)
        ended = False
        for items in results:
            if not items:
                ended = True  # later pages of this round may hold shifted objects: keep them
            for item in items:
                seen.setdefault(item["id"], item)
            largest = max(largest, len(items))
        if ended:
            return list(seen.values())
        page += round_size
        # A short last page is most likely the end: confirm it with one request.
        short = len(results[-1]) < largest
        round_size = 1 if short else min(concurrency, round_size * 2)


def _fetch_round(
    fetch: Callable[[int], list[Json]], numbers: list[int], executor: Executor | None
) -> list[list[Json]]:
    if executor is None or len(numbers) == 1:
        return [fetch(n) for n in numbers]
    futures: list[Future[list[Json]]] = [executor.submit(fetch, n) for n in numbers]
    # Wait for every page before raising, so no request outlives the sweep that asked for it.
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]
