"""Rate limiter (fake clock), Retry-After parsing, backoff bounds, settings from the environment."""

from __future__ import annotations

import random
import threading

import pytest
from conftest import FakeAPI, FakeClock

from reconciler.api.ratelimit import RateLimiter
from reconciler.api.retry import backoff_delay, retry_after
from reconciler.api.settings import ClientSettings, parse_rate_limit
from reconciler.errors import ConfigError


def test_rate_limiter_spaces_requests_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == pytest.approx([0.1] * 4)
    assert clock.now == pytest.approx(1000.4)  # 5 requests in 0.4 s at 10/s


def test_rate_limiter_does_not_bank_idle_time_beyond_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, burst=3, clock=clock, sleep=clock.sleep)
    clock.now += 100  # idle for a long time
    waits = [limiter.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])  # 3 at once, then 2/s


def test_rate_limiter_gives_concurrent_callers_distinct_slots() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = limiter.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([i * 0.25 for i in range(8)])


def test_a_hold_pauses_every_caller() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    assert limiter.reserve() == 0.0
    limiter.hold(5.0)
    assert limiter.reserve() == pytest.approx(5.0)  # one caller ...
    assert limiter.reserve() == pytest.approx(5.0)  # ... and the next
    clock.now += 5.0
    assert limiter.reserve() == 0.0


def test_the_client_respects_its_rate_limit(fake: FakeAPI) -> None:
    fake.add("streams", 100)
    sleeps: list[float] = []
    with fake.client(sleeps, rate_limit=5.0, concurrency=1) as api:
        api.list_streams()
        waited = api.stats().waited
    assert len(fake.log) == 5  # 4 pages + the empty one
    assert sum(sleeps) == pytest.approx(0.8)  # 5 requests at 5/s span 0.8 s
    assert waited == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),  # in the past
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after(headers, now=now) == seconds


def test_backoff_stays_within_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(8.0, 0.5 * 2**attempt)
        for _ in range(50):
            assert 0.0 <= backoff_delay(attempt, base=0.5, cap=8.0, rng=rng) <= ceiling
    assert backoff_delay(3, base=0.0, cap=8.0) == 0.0


def test_settings_from_the_environment() -> None:
    env = {
        "RECONCILER_RATE_LIMIT": "2.5",
        "RECONCILER_CONCURRENCY": "3",
        "RECONCILER_TIMEOUT": "12",
        "RECONCILER_RETRIES": "0",
    }
    settings = ClientSettings.from_env(env)
    assert (settings.rate_limit, settings.concurrency, settings.timeout, settings.retries) == (
        2.5,
        3,
        12.0,
        0,
    )
    assert ClientSettings.from_env({}) == ClientSettings()
    assert ClientSettings.from_env(env, concurrency=9, timeout=None).concurrency == 9


@pytest.mark.parametrize("text", ["0", "none", "None", "unlimited"])
def test_rate_limit_zero_or_none_means_unlimited(text: str) -> None:
    assert ClientSettings.from_env({"RECONCILER_RATE_LIMIT": text}).rate_limit is None
    assert parse_rate_limit(text) is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RECONCILER_RATE_LIMIT", "fast"),
        ("RECONCILER_RATE_LIMIT", "-1"),
        ("RECONCILER_CONCURRENCY", "0"),
        ("RECONCILER_CONCURRENCY", "2.5"),
        ("RECONCILER_TIMEOUT", "0"),
        ("RECONCILER_TIMEOUT", "inf"),
        ("RECONCILER_RETRIES", "-1"),
        ("RECONCILER_RETRIES", "many"),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ClientSettings.from_env({variable: value})
    assert str(caught.value).startswith(f"{variable}={value!r}: expected ")


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        ClientSettings(concurrency=0)
    with pytest.raises(ConfigError, match="rate limit"):
        ClientSettings(rate_limit=0)


def test_429s_halve_the_rate_once_per_reaction_never_below_one_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(8.0, clock=clock, sleep=clock.sleep)
    sent = clock()
    clock.now += 0.1
    assert limiter.slow_down(sent_at=sent) == 4.0
    # Other answers 429 to requests sent before the slow-down were earned at the old rate.
    assert limiter.slow_down(sent_at=sent) is None
    limiter.acquire()
    assert limiter.slow_down(sent_at=clock()) == 2.0
    for expected in (1.0, None, None):
        clock.now += 1
        assert limiter.slow_down(sent_at=clock()) == expected
    assert limiter.slowed_to == 1.0
    first = limiter.reserve()
    assert limiter.reserve() - first == pytest.approx(1.0)  # 1 request/s from now on


def test_an_unlimited_client_slows_to_half_the_rate_it_was_sending() -> None:
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock, sleep=clock.sleep)
    for _ in range(40):
        limiter.acquire()
        clock.now += 0.025  # 40 requests/s
    assert limiter.slow_down(sent_at=clock()) == 20.0


def test_the_client_reports_its_slow_down(fake: FakeAPI) -> None:
    import httpx

    busy = httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "slow down"})
    fake.add("streams", 5)
    with fake.client(rate_limit=10.0) as api:
        api.get_stream(105)
        assert api.stats().slowed_to is None
        fake.script("GET", "/streaming/streams/105", busy, busy)
        api.get_stream(105)
        stats = api.stats()
    assert (stats.rate_limited, stats.slowed_to) == (2, 2.5)


def test_the_size_cap_is_a_setting() -> None:
    assert ClientSettings().max_response_bytes == 32 * 1024 * 1024
    with pytest.raises(ConfigError, match="max_response_bytes"):
        ClientSettings(max_response_bytes=0)
