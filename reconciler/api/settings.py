"""Client settings: rate limit, concurrency, timeouts, retries; defaults and the environment.

Plain values only; knows nothing of httpx or of the calls made with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from reconciler import __version__
from reconciler.errors import ConfigError

# Environment variables read by `ClientSettings.from_env` (the CLI's flags override them).
ENV_RATE_LIMIT = "RECONCILER_RATE_LIMIT"
ENV_CONCURRENCY = "RECONCILER_CONCURRENCY"
ENV_TIMEOUT = "RECONCILER_TIMEOUT"
ENV_RETRIES = "RECONCILER_RETRIES"

# Bounds of every number a user can give (flags and environment): past them a value is a typo or
# an attack, and would overflow a sleep or a socket timeout, or start a million threads.
RATE_LIMIT_RANGE = (0.01, 10_000.0)  # requests/second
CONCURRENCY_RANGE = (1, 64)
TIMEOUT_MAX = 3600.0  # seconds for one whole request
RETRIES_RANGE = (0, 20)


@dataclass(frozen=True)
class ClientSettings:
    """How the client talks to the API. Defaults suit the public Gcore API."""

    rate_limit: float | None = 10.0  # requests/second shared by all threads; None = unlimited
    concurrency: int = 8  # pages in flight in a sweep; the apply worker pool uses the same number
    timeout: float = 30.0  # seconds for one whole request: connect, send and the full answer
    connect_timeout: float = 5.0
    max_response_bytes: int = 32 * 1024 * 1024  # a bigger answer fails unread, never buffered
    retries: int = 4  # retries after the first attempt (so 5 attempts at most)
    backoff_base: float = 0.5  # seconds; full jitter over base * 2**attempt
    backoff_max: float = 8.0
    retry_after_max: float = 60.0  # a longer Retry-After is capped (and logged)
    user_agent: str = f"reconciler/{__version__}"

    def __post_init__(self) -> None:
        low, high = RATE_LIMIT_RANGE
        if self.rate_limit is not None and not low <= self.rate_limit <= high:
            raise ConfigError(
                f"rate limit must be from {low:g} to {high:g} requests per second or unlimited, "
                f"not {self.rate_limit}"
            )
        if not CONCURRENCY_RANGE[0] <= self.concurrency <= CONCURRENCY_RANGE[1]:
            raise ConfigError(
                f"concurrency must be from {CONCURRENCY_RANGE[0]} to {CONCURRENCY_RANGE[1]}, "
                f"not {self.concurrency}"
            )
        for name in ("timeout", "connect_timeout"):
            value = getattr(self, name)
            if not 0 < value <= TIMEOUT_MAX:
                raise ConfigError(
                    f"{name} must be above 0 and at most {TIMEOUT_MAX:g} seconds, not {value}"
                )
        if not RETRIES_RANGE[0] <= self.retries <= RETRIES_RANGE[1]:
            raise ConfigError(
                f"retries must be from {RETRIES_RANGE[0]} to {RETRIES_RANGE[1]}, not {self.retries}"
            )
        if self.max_response_bytes < 1:
            raise ConfigError("max_response_bytes must be at least 1")
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClientSettings:
        """Defaults, then RECONCILER_* variables, then `overrides` (flags; None = not given).

        A bad value raises ConfigError naming the variable.
        """
        import os

        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        readers: list[tuple[str, str, Callable[[str], Any]]] = [
            (ENV_RATE_LIMIT, "rate_limit", _parse_rate),
            (ENV_CONCURRENCY, "concurrency", _parse_concurrency),
            (ENV_TIMEOUT, "timeout", _parse_seconds),
            (ENV_RETRIES, "retries", _parse_retries),
        ]
        for variable, name, parse in readers:
            raw = env.get(variable)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[name] = parse(raw.strip())
            except ValueError as exc:
                raise ConfigError(f"{variable}={raw!r}: {exc}") from None
        known = {f.name for f in fields(cls)}
        for name, value in overrides.items():
            if name not in known:
                raise TypeError(f"unknown client setting {name!r}")
            if value is not None:
                values[name] = value
        return cls(**values)


def parse_rate_limit(text: str) -> float | None:
    """'10', '2.5' -> requests/second; '0', 'none', 'unlimited' -> None (for flags too)."""
    return _parse_rate(text)


def _parse_rate(text: str) -> float | None:
    if text.lower() in ("0", "none", "unlimited", "off"):
        return None
    low, high = RATE_LIMIT_RANGE
    return _float(
        text,
        f"a number of requests per second between {low:g} and {high:g}, or 0/none for unlimited",
        low=low,
        high=high,
    )


def _parse_concurrency(text: str) -> int:
    low, high = CONCURRENCY_RANGE
    return _int(text, f"a whole number from {low} to {high}", low=low, high=high)


def _parse_retries(text: str) -> int:
    low, high = RETRIES_RANGE
    return _int(text, f"a whole number from {low} to {high}", low=low, high=high)


def _parse_seconds(text: str) -> float:
    value = _float(
        text, f"a number of seconds above 0 and at most {TIMEOUT_MAX:g}", low=0, high=TIMEOUT_MAX
    )
    if value <= 0:
        raise ValueError(f"expected a number of seconds above 0 and at most {TIMEOUT_MAX:g}")
    return value


def _float(text: str, expected: str, *, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"expected {expected}")
    return value


def _int(text: str, expected: str, *, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not low <= value <= high:
        raise ValueError(f"expected {expected}")
    return value
