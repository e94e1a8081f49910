"""List sweeps: fetch pages 1, 2, ... until an empty page, several pages in flight at once.

Pages go out in rounds of 1, 2, 4, ... up to `concurrency` pages; a round that ends on a short
page is followed by a single page to confirm the end (the API promises no total count, only an
empty page past the end). So N objects cost ceil(N/size) + 1 requests, plus at most
concurrency - 1 empty pages. Any failed page fails the whole sweep: never a partial list.
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
) -> list[Json]:
    """All objects of all pages in page order, de-duplicated by id (first occurrence wins).

    `fetch(page)` returns the page's objects (each a dict with an `id`) or raises.
    """
    seen: dict[Any, Json] = {}
    page = 1
    round_size = 1
    largest = page_size
    while True:
        if page > MAX_PAGES:
            raise BadResponse(f"listing {what} did not end after {MAX_PAGES} pages")
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
