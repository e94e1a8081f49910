"""Which clock judges idle ages and lock leases: the platform's (`StreamingAPI.server_now`), and
this machine's only when the platform sent no `Date`, with a warning. Knows only the protocol.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

from reconciler.api.protocol import StreamingAPI

log = logging.getLogger("reconciler.api.platformtime")

# One warning per client: the lock asks the time at every beat.
_warned: weakref.WeakSet[StreamingAPI] = weakref.WeakSet()


def local_now() -> datetime:
    return datetime.now(UTC)


def platform_now(api: StreamingAPI, local: Callable[[], datetime] = local_now) -> datetime:
    """The platform's time; `local()` (with a warning, once) when it never sent a `Date`."""
    moment = api.server_now()
    if moment is not None:
        return moment
    if api not in _warned:
        _warned.add(api)
        log.warning(
            "the API sent no Date header: idle ages and lock expiries are judged by this "
            "machine's clock, which may differ from the platform's"
        )
    moment = local()
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def platform_clock(api: StreamingAPI) -> Callable[[], float]:
    """`platform_now` as unix seconds, the lock's clock."""
    return lambda: platform_now(api).timestamp()
