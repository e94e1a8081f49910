"""List sweeps: fetch pages 1, 2, ... until an empty page, several pages in flight at once.

With an expected size (the manifests' count, or what the last sweep of that kind found), page 1
goes alone and, when full, the pages the expected objects fill go out `concurrency` at a time,
then pages one by one, in rounds of 1, 2, 4, ...: an account of the expected size costs exactly
ceil(N/size) + 1 requests. Without one, rounds of 1, 2, 4, ... up to `concurrency` pages; a round
that ends on a short page is followed by a single page to confirm the end (the API promises no
total count, only an empty page past the end): at most concurrency - 1 empty pages more. Any
failed page fails the whole sweep: never a partial list; so do pages that contradict each other
(objects after the page that ended the list, a page of only repeated ids). One contradiction is
the account growing under the read (another run creating): objects after the end whose ids are
all newer than any read; then the pages from the one that ended the list are read again.
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
MAX_REREADS = 3  # times the end of a growing listing is read again before the read is refused


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
    how many objects there probably are (0: unknown); it changes how many pages go out at once,
    and an empty page before the expected end is confirmed by the next page. Pages that contradict
    each other raise `BadResponse` (see `_Promises`), as a failed page does.
    """
    seen: dict[Any, Json] = {}
    promises = _Promises(what)
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
        reread_from = _absorb(promises, numbers, results, seen)
        if reread_from is None:
            largest = max(largest, *map(len, results))
            page += round_size
            if promises.empty_page is not None:
                if promises.abrupt_end == page - 1 and page - 1 <= expected_pages:
                    # Fewer objects than expected, and the list ended on `[]` right after a full
                    # page: a page that lies `[]` looks exactly like this, so one more page
                    # confirms the end (a request more only when the account holds fewer objects
                    # than expected).
                    reread_from = _absorb(promises, [page], [fetch(page)], seen)
                if reread_from is None:
                    return list(seen.values())
        if reread_from is not None:
            page, round_size = reread_from, 1  # the listing grew: read on from where it ended
            continue
        # A short last page is most likely the end: confirm it with one request.
        short = len(results[-1]) < largest
        round_size = 1 if short else min(concurrency, round_size * 2)


class _Grew(Exception):
    """Objects newer than any read appeared after the page that ended the list."""

    def __init__(self, end_page: int) -> None:
        super().__init__(end_page)
        self.end_page = end_page


class _Promises:
    """What the pages read so far promise about the next ones. The API answers bare arrays (no
    total), so the only promises are: a page shorter than an earlier page, or an empty page, ends
    the list; and every page brings objects not seen before. A page that breaks one (objects after
    the end, or only repeated ids: a server that pages forever) means the listing is incomplete or
    inconsistent, and using it could prune or duplicate: `check` raises as a failed page does.
    Objects after the end that are all newer than any read may be the account growing (ids only
    grow): `check` raises `_Grew`, up to MAX_REREADS times, and the page that had ended the list
    must then come back longer, with the objects it had: only then was it growth."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._largest = 0
        self._end: tuple[int, int] | None = None  # (page, size) of the page that ended the list
        self._end_ids: set[Any] = set()
        self.empty_page: int | None = None  # the first empty page
        self._rereads = 0
        self._to_confirm: tuple[int, int, set[Any], str] | None = None  # (page, size, ids, why)

    @property
    def abrupt_end(self) -> int | None:
        """The empty page that ended the list right after a full page (page 1 excluded: an empty
        account), if that is how it ended."""
        if self._end is not None and self._end[1] == 0 and self._end[0] > 1:
            return self._end[0]
        return None

    def check(self, number: int, items: list[Json], seen: dict[Any, Json]) -> None:
        if self._to_confirm is not None and self._to_confirm[0] == number:
            _, size, ids, contradiction = self._to_confirm
            self._to_confirm = None
            if len(items) <= size or not ids <= {item["id"] for item in items}:
                raise self._incomplete(contradiction)  # not growth: the page lied
        if items and self._end is not None:
            end, size = self._end
            contradiction = (
                f"page {number} holds {len(items)} objects after page {end} ended the list with "
                f"{size}"
            )
            if self._rereads < MAX_REREADS and _all_newer(items, seen):
                self._rereads += 1
                self._to_confirm = (end, size, self._end_ids, contradiction)
                self._end, self.empty_page = None, None
                raise _Grew(end)
            raise self._incomplete(contradiction)
        if items and all(item["id"] in seen for item in items):
            raise self._incomplete(
                f"page {number} brings no object that earlier pages did not ({len(items)} repeated)"
            )
        if self._end is None and (not items or len(items) < self._largest):
            self._end = (number, len(items))
            self._end_ids = {item["id"] for item in items}
        if not items and self.empty_page is None:
            self.empty_page = number
        self._largest = max(self._largest, len(items))

    def _incomplete(self, what_happened: str) -> BadResponse:
        return BadResponse(
            f"listing {self._what}: {what_happened}: the listing is incomplete or inconsistent, "
            "so it is not used; retry later"
        )


def _absorb(
    promises: _Promises, numbers: list[int], results: list[list[Json]], seen: dict[Any, Json]
) -> int | None:
    """Check each page against the promises and keep its objects; when the listing grew under
    the read, the page to read again from (the one that had ended the list)."""
    try:
        for number, items in zip(numbers, results, strict=True):
            promises.check(number, items, seen)
            for item in items:
                seen.setdefault(item["id"], item)
    except _Grew as grew:
        return grew.end_page
    return None


def _all_newer(items: list[Json], seen: dict[Any, Json]) -> bool:
    """Every id of `items` is higher than every id read so far (none read: not growth)."""
    newest = max(seen, default=None)
    return newest is not None and all(item["id"] > newest for item in items)


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
