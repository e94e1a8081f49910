"""The lock under failing reads: a run that could not confirm its lock must not leave it behind,
or every later run (cron, pipeline) is locked out until its TTL expires.
"""

from __future__ import annotations

from typing import Any

import pytest
from chaos_support import Account

from reconciler.errors import ServerError
from reconciler.lock.lease import acquire_lock

pytestmark = pytest.mark.chaos


class FailingSecondListing:
    """The real client, except that the second stream listing fails after its retries."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.listings = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def list_streams(self) -> list[dict[str, Any]]:
        self.listings += 1
        if self.listings == 2:
            raise ServerError("server error after 5 attempts", method="GET", path="/streams")
        result: list[dict[str, Any]] = self._api.list_streams()
        return result


def test_a_lock_that_could_not_be_confirmed_is_not_left_behind(api: Any, account: Account) -> None:
    flaky = FailingSecondListing(api)
    with pytest.raises(ServerError):
        acquire_lock(flaky, "chaos", owner="first run", ttl=600)
    assert flaky.listings == 2  # the lock stream was created, then its confirmation failed
    assert account.census().lock_streams == 0
    # So the next run (a cron job a minute later) gets the lock at once.
    with acquire_lock(api, "chaos", owner="next run", ttl=600) as lock:
        assert lock.owner == "next run"
