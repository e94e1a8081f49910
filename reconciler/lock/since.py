"""The stream listing brought up to date by reading only its end: what the lock's confirmation
reads instead of a second full sweep when the caller holds a listing of a moment ago (the plan's).

Stream ids only grow (the lock's rule already rests on it). A listing whose ids ascend page
after page puts every stream created since at its end: the pages from where the earlier listing
ended up to an empty page show them all, every lock stream among them. One whose ids descend
(newest first: the API does not document its order) puts them at its start: the pages from the
first up to the one that reaches the earlier newest id. Whatever does not prove it (ids in no
order, an end that moved too far) answers None, and the caller sweeps in full. Knows nothing of
locks: only pages and ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

Json = dict[str, Any]

PAGE_SIZE = 25  # the API's page size for streams (api/pages.py)
MAX_BACK = 3  # pages walked back when streams were deleted since (the end moved up)
MAX_PAGES = 12  # pages read in all: an account that grew more than this since is swept in full


def listing_since(
    fetch_page: Callable[[int], list[Json]], earlier: Sequence[Json]
) -> list[Json] | None:
    """`earlier` (a complete listing, in page order) with its end read again: the streams before
    the first one read now, as `earlier` had them, then every stream from there to the end as the
    account has them now. None when that cannot be proven complete (see the module docstring)."""
    ids = [int(stream["id"]) for stream in earlier]
    if len(ids) > 1 and _ascending(ids[::-1]):
        return _newest_first(fetch_page, earlier, ids)
    if not _ascending(ids):
        return None
    last_page = (len(ids) - 1) // PAGE_SIZE + 1 if ids else 1
    anchor = ids[(last_page - 1) * PAGE_SIZE] if ids else None
    start = _start_page(fetch_page, last_page, anchor)
    if start is None:
        return None
    first_page, items = start
    end = _read_to_end(fetch_page, first_page + 1, items)
    if end is None:
        return None
    first_id = int(end[0]["id"]) if end else None
    kept = [s for s, i in zip(earlier, ids, strict=True) if first_id is None or i < first_id]
    if first_page == 1:
        kept = []  # read from the first page: nothing of the earlier listing is needed
    return kept + end


def _newest_first(
    fetch_page: Callable[[int], list[Json]], earlier: Sequence[Json], ids: Sequence[int]
) -> list[Json] | None:
    """For a listing whose ids descend: read from page 1 until a page reaches the earlier newest
    id (every stream created since comes before it), then the earlier listing's older part."""
    found: dict[int, Json] = {}  # a stream pushed onto the next page as we read shows twice
    for page in range(1, MAX_PAGES + 1):
        items = fetch_page(page)
        for item in items:
            found.setdefault(int(item["id"]), item)
        if not items or any(int(item["id"]) <= ids[0] for item in items):
            break
    else:
        return None
    read = list(found.values())
    if not read or not _ascending([int(s["id"]) for s in reversed(read)]):
        return None
    oldest = int(read[-1]["id"])
    return read + [s for s, i in zip(earlier, ids, strict=True) if i < oldest]


def _start_page(
    fetch_page: Callable[[int], list[Json]], page: int, anchor: int | None
) -> tuple[int, list[Json]] | None:
    """The first page to read from: one that starts at or before `anchor` (the first stream of
    the earlier listing's last page), so that every stream after it is on that page or later."""
    for _ in range(MAX_BACK + 1):
        items = fetch_page(page)
        if page == 1 or (items and anchor is not None and int(items[0]["id"]) <= anchor):
            return page, items
        page -= 1  # streams were deleted since: the earlier end moved up a page
    return None


def _read_to_end(
    fetch_page: Callable[[int], list[Json]], page: int, items: list[Json]
) -> list[Json] | None:
    """`items` and the pages after them up to the first empty one, or None if their ids do not
    ascend or there are more than MAX_PAGES of them."""
    found = list(items)
    last = items
    pages = 1
    while last:
        if pages >= MAX_PAGES:
            return None
        last = fetch_page(page)
        found.extend(last)
        page += 1
        pages += 1
    return found if _ascending([int(s["id"]) for s in found]) else None


def _ascending(ids: Sequence[int]) -> bool:
    return all(a < b for a, b in pairwise(ids))
