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
from typing import Any, NamedTuple
from urllib.parse import urlencode

import httpx

from reconciler.api.deadline import deadline
from reconciler.api.perthread import PerThread
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
    """What `Caller.call` returns: the status and the parsed JSON."""

    status: int
    data: Any  # parsed JSON, or None for an empty body


@dataclass(frozen=True)
class ClientStats:
    """What a client sent: requests per "METHOD /route" (ids as `{id}`), retries, 429s seen,
    seconds spent waiting for the rate limiter or a Retry-After, and the rate 429s slowed it to."""

    requests: Mapping[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0
    slowed_to: float | None = None  # requests/s the client slowed down to after 429s, if it did
    # "METHOD STATUS" -> attempts ("METHOD error" when no answer came: refused, timed out, cut)
    answers: Mapping[str, int] = field(default_factory=dict)

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


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read in full (within the size cap)."""

    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class _Outcome:
    """One attempt: the answer, or the failure that left us without one."""

    sent_at: float  # the rate limiter's clock when the request went out
    answer: Answer | None = None
    failure: Failure | None = None
    detail: str = ""


@dataclass
class _Tries:
    """The attempts of one call so far (mutable: one per call, never shared)."""

    failures: int = 0  # 5xx, timeouts, connection errors: budget `retries`
    throttled: int = 0  # 429s: safe by definition, budget 2 * `retries` (the limit is shared)
    maybe_acted: bool = False  # an earlier attempt may have changed server state


class _Line(NamedTuple):
    """One thread's httpx client and the transport it sends through."""

    http: httpx.Client
    send: Callable[[httpx.Request], httpx.Response]


class Caller:
    """Sends calls through httpx clients made by `connect`, one per calling thread (see
    `_open_line`); safe to use from many threads at once."""

    def __init__(
        self,
        connect: Callable[[], httpx.Client],
        settings: ClientSettings,
        *,
        secret: str,
        on_answer: Callable[[httpx.Response], None] = lambda response: None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._connect = connect
        self._lines = PerThread(self._open_line, close=lambda line: line.http.close())
        # This thread's client now: a bad setting (a proxy URL from the environment) fails here.
        self._base = str(self._lines.get().http.base_url).rstrip("/")
        self._on_answer = on_answer
        self._settings = settings
        self._secret = secret
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(settings.rate_limit, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._answers: Counter[str] = Counter()
        self._retries = 0
        self._rate_limited = 0
        self._backoff_waited = 0.0

    def _open_line(self) -> _Line:
        """A client of this thread's own. httpx's connection pool checks each idle connection it
        holds (a poll each, under the pool's lock) twice per request: 8 page threads sharing one
        pool paid ~16 polls and a queue on that lock per page. Every call goes to the client's
        one base URL, so its transport (direct, or a proxy from the environment) is chosen once.
        The client builds each request (headers, timeouts) and the transport sends it: the
        client's own send adds auth, redirect, cookie and hook steps we do not use, and with the
        URL merge they were a quarter of a page read's CPU."""
        http = self._connect()
        return _Line(http, http._transport_for_url(http.base_url).handle_request)

    def client(self) -> httpx.Client:
        """The calling thread's httpx client."""
        return self._lines.get().http

    def close(self) -> None:
        """Close every thread's client (their connections)."""
        self._lines.close()

    def stats(self) -> ClientStats:
        with self._lock:
            return ClientStats(
                requests=dict(sorted(self._requests.items())),
                retries=self._retries,
                rate_limited=self._rate_limited,
                waited=self._backoff_waited + self.limiter.waited,
                slowed_to=self.limiter.slowed_to,
                answers=dict(sorted(self._answers.items())),
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
        tries = _Tries()
        while True:
            outcome = self._attempt(method, path, route, params, body)
            answer = outcome.answer
            if answer is not None:
                if answer.status in ok:
                    return Reply(answer.status, self._parse(answer, method, path))
                if answer.status == 404 and method == "DELETE" and tries.maybe_acted:
                    log.info("%s %s -> 404 after an earlier attempt may have deleted it: done",
                             method, path)  # fmt: skip
                    return Reply(204, None)
                outcome = self._refused(outcome, answer, method, path)
            self._retry_or_raise(outcome, method, path, create, tries)

    # -- one attempt -------------------------------------------------------------------------

    def _attempt(
        self, method: str, path: str, route: str, params: Mapping[str, Any] | None, body: Any
    ) -> _Outcome:
        """Wait for a slot, send, read the whole answer within the deadline; never retries."""
        self.limiter.acquire()
        sent_at = self._clock()
        with self._lock:
            self._requests[f"{method} {route}"] += 1
        started = time.monotonic()
        failure: Failure
        error: httpx.HTTPError
        with deadline(self._settings.timeout) as limit:
            try:
                answer = self._exchange(method, path, params, body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                failure, error = Failure.NOT_SENT, exc
            except httpx.TimeoutException as exc:
                failure, error = Failure.TIMEOUT, exc
            except httpx.TransportError as exc:  # read/write errors, protocol errors
                failure, error = Failure.DROPPED, exc
            except httpx.HTTPError as exc:  # undecodable body, redirect loops
                raise BadResponse(_describe(exc), method=method, path=path) from None
            else:
                log.debug("%s %s -> %s (%.3fs)", method, path, answer.status,
                          time.monotonic() - started)  # fmt: skip
                self._count_answer(method, str(answer.status))
                return _Outcome(sent_at, answer=answer)
        self._count_answer(method, "error")
        detail = self._timed_out() if limit.expired else _describe(error)
        log.debug("%s %s -> %s (%.3fs)", method, path, detail, time.monotonic() - started)
        return _Outcome(sent_at, failure=failure, detail=detail)

    def _count_answer(self, method: str, status: str) -> None:
        with self._lock:
            self._answers[f"{method} {status}"] += 1

    def _exchange(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> Answer:
        # The URL is written out whole: merging a relative path and params parses it 3 times.
        url = f"{self._base}{path}?{urlencode(params)}" if params else self._base + path
        line = self._lines.get()
        request = line.http.build_request(method, url, json=body)
        response = line.send(request)
        try:
            self._on_answer(response)
            content = self._read_capped(response, method, request.url.raw_path.decode())
        finally:
            response.close()  # an unread rest closes the connection: it is never reused
        return Answer(response.status_code, response.headers, content)

    def _read_capped(self, response: httpx.Response, method: str, target: str) -> bytes:
        """The body, streamed: past `max_response_bytes` it fails without reading the rest."""
        cap = self._settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        too_big = BadResponse(
            f"the answer is larger than {_size(cap)}; the rest was not read",
            method=method,
            path=target,
            status=response.status_code,
        )
        if declared.isdigit() and int(declared) > cap:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    def _timed_out(self) -> str:
        return (
            f"no complete answer within {self._settings.timeout:g} s (--timeout, the deadline of "
            "a whole request)"
        )

    def _refused(self, outcome: _Outcome, answer: Answer, method: str, path: str) -> _Outcome:
        """An answer that is not a success: the failure to retry, or the error to raise now."""
        failure = failure_for_status(answer.status)
        if failure is None:
            raise self._error_for(answer, method, path)
        if failure is Failure.RATE_LIMITED:
            with self._lock:
                self._rate_limited += 1
            slowed = self.limiter.slow_down(sent_at=outcome.sent_at)
            if slowed is not None:
                log.info(
                    "the API answered 429: slowing down to %g requests/s",
                    slowed,
                    extra={
                        "event": "rate_limit.slow_down",
                        "fields": {"requests_per_second": slowed},
                    },
                )
        detail = f"HTTP {answer.status}{self._server_text(answer)}"
        return _Outcome(outcome.sent_at, answer=answer, failure=failure, detail=detail)

    # -- retries -----------------------------------------------------------------------------

    def _retry_or_raise(
        self, outcome: _Outcome, method: str, path: str, create: bool, tries: _Tries
    ) -> None:
        """Raise when the policy gives up (or a create's outcome is unknown), else wait."""
        failure = outcome.failure
        assert failure is not None
        status = outcome.answer.status if outcome.answer is not None else None
        limited = failure is Failure.RATE_LIMITED
        attempt = tries.throttled if limited else tries.failures
        budget = self._settings.retries * (2 if limited else 1)
        verdict = decide(failure, create=create, attempt=attempt, retries=budget)
        if verdict is Verdict.AMBIGUOUS:
            raise AmbiguousCreate(
                f"outcome unknown ({outcome.detail}); the object may have been created: look for "
                "it before creating again",
                method=method,
                path=path,
                status=status,
            )
        if verdict is Verdict.GIVE_UP:
            attempts = tries.failures + tries.throttled + 1
            raise self._final_error(failure, outcome, method, path, attempts)
        tries.maybe_acted = tries.maybe_acted or may_have_acted(failure)
        self._wait_before_retry(outcome, failure, attempt, f"{method} {path}")
        if limited:
            tries.throttled += 1
        else:
            tries.failures += 1

    def _wait_before_retry(
        self, outcome: _Outcome, failure: Failure, attempt: int, name: str
    ) -> None:
        delay = wait_for(
            failure,
            outcome.answer.headers if outcome.answer is not None else {},
            attempt=attempt,
            base=self._settings.backoff_base,
            cap=self._settings.backoff_max,
            retry_after_max=self._settings.retry_after_max,
            now=self._wall_clock(),
            rng=self._rng,
        )
        # An event for --log-format json: a retry, or a wait the 429 asked for.
        event = "rate_limit.wait" if failure is Failure.RATE_LIMITED else "retry"
        fields = {"request": name, "detail": outcome.detail, "wait_seconds": round(delay, 3)}
        log.info(
            "%s: %s; retry in %.2fs",
            name,
            outcome.detail,
            delay,
            extra={"event": event, "fields": fields},
        )
        with self._lock:
            self._retries += 1
        if failure is Failure.RATE_LIMITED:
            self.limiter.hold(delay)  # the account's limit: every thread backs off
        elif delay > 0:
            with self._lock:
                self._backoff_waited += delay
            self._sleep(delay)

    # -- answers -----------------------------------------------------------------------------

    def _parse(self, answer: Answer, method: str, path: str) -> Any:
        content = answer.content
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            raise BadResponse(
                f"the API answered {answer.status} with a body that is not JSON"
                f"{self._server_text(answer)}",
                method=method,
                path=path,
                status=answer.status,
            ) from None

    def _error_for(self, answer: Answer, method: str, path: str) -> ApiError:
        status = answer.status
        text = self._api_message(answer)
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
        self, failure: Failure, outcome: _Outcome, method: str, path: str, attempts: int
    ) -> ApiError:
        answer = outcome.answer
        tries = f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        kw: dict[str, Any] = {
            "method": method,
            "path": path,
            "status": answer.status if answer is not None else None,
        }
        if failure is Failure.RATE_LIMITED:
            return RateLimited(
                f"rate limited by the API {tries}; lower --rate-limit or retry later", **kw
            )
        if failure is Failure.SERVER and answer is not None:
            return ServerError(f"server error {tries}{_colon(self._api_message(answer))}", **kw)
        return Unreachable(f"{outcome.detail} {tries}; check GCORE_BASE_URL and the network", **kw)

    def _api_message(self, answer: Answer) -> str:
        """The API's own words: `{"errors": {field: [msg]}}`, `{"error": ...}`, or raw text."""
        try:
            data = json.loads(answer.content) if answer.content.strip() else None
        except ValueError:
            data = None
        text = _error_text(data) if isinstance(data, dict) else ""
        if not text:
            text = _plain(answer.content.decode("utf-8", "replace").strip())
        return self.scrub(" ".join(text.split())[:_MAX_MESSAGE])

    def _server_text(self, answer: Answer) -> str:
        return _colon(self._api_message(answer))

    def scrub(self, text: str) -> str:
        """A server may echo our headers back: the key never reaches a message."""
        return text.replace(self._secret, "***") if self._secret else text


def _error_text(data: dict[str, Any]) -> str:
    errors = data.get("errors")
    if isinstance(errors, dict) and errors:
        parts = []
        for key, value in errors.items():
            messages = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {', '.join(str(m) for m in messages)}")
        return "; ".join(parts)
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    for key in ("error", "message", "detail"):
        if isinstance(data.get(key), str | int) and str(data[key]):
            return str(data[key])
    return ""


def _size(limit: int) -> str:
    mib = 1024 * 1024
    if limit % mib == 0:
        return f"{limit // mib} MB ({limit} bytes, the client's max_response_bytes)"
    return f"{limit} bytes (the client's max_response_bytes)"


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
