"""One API call with everything around it: rate limit, retries, error mapping, request counts.

The only place that touches httpx requests and exceptions; it knows routes and methods, not what
the calls mean. httpx exceptions never leave this module: they become `ApiError` subclasses.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler.api.ratelimit import RateLimiter
from reconciler.api.retry import (
    Failure,
    Verdict,
    decide,
    failure_for_status,
    may_have_acted,
    wait_for,
)
from reconciler.api.settings import ClientSettings
from reconciler.errors import (
    AmbiguousCreate,
    ApiError,
    AuthError,
    BadResponse,
    NotFoundError,
    RateLimited,
    ServerError,
    Unreachable,
    ValidationFailed,
)

log = logging.getLogger("reconciler.api")

_MAX_MESSAGE = 300  # characters of a server's error text quoted in our messages


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # parsed JSON, or None for an empty body


@dataclass(frozen=True)
class ClientStats:
    """What a client sent: requests per "METHOD /route" (ids as `{id}`), retries, 429s seen and
    seconds spent waiting for the rate limiter or a Retry-After."""

    requests: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def by_method(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for route, n in self.requests.items():
            counts[route.split(" ", 1)[0]] += n
        return dict(sorted(counts.items()))

    def __getitem__(self, route: str) -> int:
        return self.requests.get(route, 0)


class Caller:
    """Sends calls through one httpx.Client; safe to use from many threads at once."""

    def __init__(
        self,
        http: httpx.Client,
        settings: ClientSettings,
        *,
        secret: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._settings = settings
        self._secret = secret
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._retries = 0
        self._rate_limited = 0
        self._backoff_waited = 0.0

    def stats(self) -> ClientStats:
        with self._lock:
            return ClientStats(
                requests=dict(sorted(self._requests.items())),
                retries=self._retries,
                rate_limited=self._rate_limited,
                waited=self._backoff_waited + self.limiter.waited,
            )

    def call(
        self,
        method: str,
        path: str,
        *,
        route: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        create: bool = False,
        ok: tuple[int, ...] = (200,),
    ) -> Reply:
        """One call, retried as the policy allows. `route` is the path template for counting.

        Raises AmbiguousCreate for a `create` whose outcome is unknown; NotFoundError for a 404,
        except a DELETE whose earlier attempt may have acted (then it returns Reply(204, None)).
        """
        name = f"{method} {path}"
        maybe_acted = False
        failures = 0  # 5xx, timeouts, connection errors: budget `retries`
        throttled = 0  # 429s: safe by definition, budget 2 * `retries` (the limit is shared)
        while True:
            self.limiter.acquire()
            with self._lock:
                self._requests[f"{method} {route}"] += 1
            started = time.monotonic()
            failure: Failure | None = None
            response: httpx.Response | None = None
            detail = ""
            try:
                response = self._http.request(method, path, params=params, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                failure, detail = Failure.NOT_SENT, _describe(exc)
            except httpx.TimeoutException as exc:
                failure, detail = Failure.TIMEOUT, _describe(exc)
            except httpx.TransportError as exc:  # read/write errors, protocol errors
                failure, detail = Failure.DROPPED, _describe(exc)
            except httpx.HTTPError as exc:  # undecodable body, redirect loops
                raise BadResponse(_describe(exc), method=method, path=path) from None
            elapsed = time.monotonic() - started
            headers: Mapping[str, str] = {}
            if response is not None:
                log.debug("%s -> %s (%.3fs)", name, response.status_code, elapsed)
                status = response.status_code
                if status in ok:
                    return Reply(status, self._parse(response, name))
                if status == 404 and method == "DELETE" and maybe_acted:
                    log.info("%s -> 404 after an earlier attempt may have deleted it: done", name)
                    return Reply(204, None)
                failure = failure_for_status(status)
                if failure is None:
                    raise self._error_for(response, method, path)
                if failure is Failure.RATE_LIMITED:
                    with self._lock:
                        self._rate_limited += 1
                headers = response.headers
                detail = f"HTTP {status}{self._server_text(response)}"
            else:
                log.debug("%s -> %s (%.3fs)", name, detail, elapsed)
            assert failure is not None
            limited = failure is Failure.RATE_LIMITED
            attempt = throttled if limited else failures
            budget = self._settings.retries * (2 if limited else 1)
            verdict = decide(failure, create=create, attempt=attempt, retries=budget)
            if verdict is Verdict.AMBIGUOUS:
                raise AmbiguousCreate(
                    f"outcome unknown ({detail}); the object may have been created: look for it "
                    "before creating again",
                    method=method,
                    path=path,
                    status=response.status_code if response is not None else None,
                )
            if verdict is Verdict.GIVE_UP:
                attempts = failures + throttled + 1
                raise self._final_error(failure, response, method, path, detail, attempts)
            maybe_acted = maybe_acted or may_have_acted(failure)
            delay = wait_for(
                failure,
                headers,
                attempt=attempt,
                base=self._settings.backoff_base,
                cap=self._settings.backoff_max,
                retry_after_max=self._settings.retry_after_max,
                now=self._wall_clock(),
                rng=self._rng,
            )
            log.info(
                "%s: %s; retry in %.2fs",
                name,
                detail,
                delay,
                extra={  # an event for --log-format json: a retry, or a wait the 429 asked for
                    "event": "rate_limit.wait" if limited else "retry",
                    "fields": {"request": name, "detail": detail, "wait_seconds": round(delay, 3)},
                },
            )
            with self._lock:
                self._retries += 1
            if failure is Failure.RATE_LIMITED:
                self.limiter.hold(delay)  # the account's limit: every thread backs off
            elif delay > 0:
                with self._lock:
                    self._backoff_waited += delay
                self._sleep(delay)
            if limited:
                throttled += 1
            else:
                failures += 1

    # -- answers -----------------------------------------------------------------------------

    def _parse(self, response: httpx.Response, name: str) -> Any:
        content = response.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            method, _, path = name.partition(" ")
            raise BadResponse(
                f"the API answered {response.status_code} with a body that is not JSON"
                f"{self._server_text(response)}",
                method=method,
                path=path,
                status=response.status_code,
            ) from None

    def _error_for(self, response: httpx.Response, method: str, path: str) -> ApiError:
        status = response.status_code
        text = self._api_message(response)
        kw: dict[str, Any] = {"method": method, "path": path, "status": status}
        if status in (401, 403):
            what = "the API key was refused" if status == 401 else "the API key lacks the rights"
            return AuthError(f"{what}{_colon(text)}; check GCORE_API_KEY", **kw)
        if status == 404:
            return NotFoundError(f"not found{_colon(text)}", **kw)
        if status in (400, 409, 422):
            return ValidationFailed(f"rejected{_colon(text)}", **kw)
        return BadResponse(f"unexpected answer{_colon(text)}", **kw)

    def _final_error(
        self,
        failure: Failure,
        response: httpx.Response | None,
        method: str,
        path: str,
        detail: str,
        attempts: int,
    ) -> ApiError:
        status = response.status_code if response is not None else None
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        kw: dict[str, Any] = {"method": method, "path": path, "status": status}
        if failure is Failure.RATE_LIMITED:
            return RateLimited(
                f"rate limited by the API {tries}; lower --rate-limit or retry later", **kw
            )
        if failure is Failure.SERVER and response is not None:
            return ServerError(f"server error {tries}{_colon(self._api_message(response))}", **kw)
        return Unreachable(f"{detail} {tries}; check GCORE_BASE_URL and the network", **kw)

    def _api_message(self, response: httpx.Response) -> str:
        """The API's own words: `{"errors": {field: [msg]}}`, `{"error": ...}`, or raw text."""
        try:
            data = json.loads(response.content) if response.content.strip() else None
        except ValueError:
            data = None
        text = ""
        if isinstance(data, dict):
            errors = data.get("errors")
            if isinstance(errors, dict) and errors:
                parts = []
                for key, value in errors.items():
                    messages = value if isinstance(value, list) else [value]
                    parts.append(f"{key}: {', '.join(str(m) for m in messages)}")
                text = "; ".join(parts)
            elif isinstance(errors, list) and errors:
                text = "; ".join(str(e) for e in errors)
            else:
                for key in ("error", "message", "detail"):
                    if isinstance(data.get(key), str | int) and str(data[key]):
                        text = str(data[key])
                        break
        if not text:
            text = _plain(response.content.decode("utf-8", "replace").strip())
        return self.scrub(" ".join(text.split())[:_MAX_MESSAGE])

    def _server_text(self, response: httpx.Response) -> str:
        return _colon(self._api_message(response))

    def scrub(self, text: str) -> str:
        """A server may echo our headers back: the key never reaches a message."""
        return text.replace(self._secret, "***") if self._secret else text


def _plain(text: str) -> str:
    """A proxy's HTML error page becomes its title: the markup helps nobody reading a CI log."""
    if not text.startswith("<"):
        return text
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return f"an HTML page ({title.group(1).strip()})" if title else "an HTML page"


def _colon(text: str) -> str:
    return f": {text}" if text else ""


def _describe(exc: httpx.HTTPError) -> str:
    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.ConnectError: "could not connect",
        httpx.ConnectTimeout: "connect timed out",
        httpx.PoolTimeout: "no free connection in time",
        httpx.ReadTimeout: "timed out waiting for the answer",
        httpx.WriteTimeout: "timed out sending the request",
        httpx.RemoteProtocolError: "the connection broke before a full answer",
        httpx.ReadError: "the connection broke while reading the answer",
        httpx.WriteError: "the connection broke while sending the request",
    }
    kind = kinds.get(type(exc))
    return kind or f"transport error ({type(exc).__name__})"
