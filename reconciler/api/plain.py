"""One plain HTTP GET outside the Streaming API (a Cleanup's active-users URL): no key, no
retries, redirects followed, a total deadline and a size cap. With the client, the only user of
httpx outside the simulator; knows nothing of what the answer means.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from reconciler.api.deadline import deadline, install
from reconciler.errors import Unreachable


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    text: str  # at most `max_bytes + 1` bytes of the body, decoded: the caller judges the size


def get_text(url: str, timeout: float, *, max_bytes: int) -> HttpAnswer:
    """GET `url` within `timeout` seconds for the whole exchange. Raises `Unreachable` with the
    reason (never the URL, which may hold a token: the caller names it redacted)."""
    with httpx.Client(timeout=timeout, follow_redirects=True) as http:
        install(http)
        with deadline(timeout) as limit:
            try:
                with http.stream("GET", url) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            break  # enough to know it is too big
                    status = response.status_code
            except httpx.HTTPError as exc:
                reason = f"no complete answer within {timeout:g} s" if limit.expired else None
                raise Unreachable(reason or f"{type(exc).__name__}: {exc}") from None
    return HttpAnswer(status, bytes(body[: max_bytes + 1]).decode("utf-8", "replace"))
