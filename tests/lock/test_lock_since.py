"""lock/since.py: the stream listing brought up to date by reading its end, or None when the
pages cannot prove it complete."""

from __future__ import annotations

from typing import Any

from reconciler.lock.since import MAX_BACK, MAX_PAGES, listing_since


class Pages:
    """An account's stream listing as the API pages it (25 a page), with the pages asked for."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        self.asked: list[int] = []

    def __call__(self, page: int) -> list[dict[str, Any]]:
        self.asked.append(page)
        return [{"id": i} for i in self.ids[(page - 1) * 25 : page * 25]]

    def listing(self) -> list[dict[str, Any]]:
        return [{"id": i} for i in self.ids]


def ids_of(listing: list[dict[str, Any]] | None) -> list[int] | None:
    return None if listing is None else [s["id"] for s in listing]


def test_streams_created_since_are_read_from_the_last_page_on() -> None:
    account = Pages(list(range(1, 1001)))  # 40 full pages
    earlier = account.listing()
    account.ids += [1001, 1002]  # another run's lock, then ours
    assert ids_of(listing_since(account, earlier)) == list(range(1, 1003))
    assert account.asked == [40, 41, 42]  # the earlier last page, the new end, the empty page


def test_a_short_last_page_is_read_again_with_what_was_added_to_it() -> None:
    account = Pages(list(range(1, 31)))  # page 2 holds 5
    earlier = account.listing()
    account.ids.append(31)
    assert ids_of(listing_since(account, earlier)) == list(range(1, 32))
    assert account.asked == [2, 3]


def test_deletions_since_move_the_end_up_and_the_read_walks_back() -> None:
    account = Pages(list(range(1, 101)))  # 4 full pages
    earlier = account.listing()
    del account.ids[0:30]  # someone deleted 30 streams: page 4 now starts at 106 > 76
    account.ids.append(101)
    # Page 2 starts at 56 <= 76 (the first of the earlier last page): read on from there; what
    # comes before it is the earlier listing's (stale) part.
    assert ids_of(listing_since(account, earlier)) == list(range(1, 102))
    assert account.asked == [4, 3, 2, 3, 4]


def test_more_deletions_than_it_walks_back_need_a_full_sweep() -> None:
    account = Pages(list(range(1, 501)))
    earlier = account.listing()
    del account.ids[0 : 25 * (MAX_BACK + 1)]
    assert listing_since(account, earlier) is None


def test_an_account_that_grew_more_than_a_few_pages_needs_a_full_sweep() -> None:
    account = Pages(list(range(1, 51)))
    earlier = account.listing()
    account.ids += list(range(51, 51 + 25 * MAX_PAGES))
    assert listing_since(account, earlier) is None


def test_newest_first_the_streams_created_since_are_read_from_page_one() -> None:
    account = Pages(list(range(1000, 0, -1)))  # the API may list newest first
    earlier = account.listing()
    account.ids[:0] = [1002, 1001]  # another run's lock, then ours: at the start
    assert ids_of(listing_since(account, earlier)) == list(range(1002, 0, -1))
    assert account.asked == [1]  # page 1 reaches 1000, the newest the earlier listing had


def test_newest_first_a_page_pushed_down_while_read_shows_its_streams_once() -> None:
    account = Pages(list(range(100, 0, -1)))
    earlier = account.listing()
    account.ids[:0] = list(range(130, 100, -1))  # 30 new: page 1 and part of page 2

    def pushing(page: int) -> list[dict[str, Any]]:
        if page == 2:
            account.ids.insert(0, 131)  # created while page 1 was read: 106 moves to page 2
        return account(page)

    assert ids_of(listing_since(pushing, earlier)) == list(range(130, 0, -1))


def test_a_listing_whose_ids_do_not_ascend_proves_nothing() -> None:
    account = Pages([5, 3, 9, 12])
    assert listing_since(account, account.listing()) is None
    assert account.asked == []  # not even asked


def test_pages_read_now_whose_ids_do_not_ascend_prove_nothing() -> None:
    account = Pages(list(range(1, 51)))
    earlier = account.listing()
    account.ids.append(7)  # a new stream with a lower id: the order is not by id after all
    assert listing_since(account, earlier) is None


def test_an_empty_earlier_listing_reads_the_account_from_page_one() -> None:
    account = Pages([])
    account.ids.append(1)
    assert ids_of(listing_since(account, [])) == [1]
    assert account.asked == [1, 2]
