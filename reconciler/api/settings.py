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


@dataclass(frozen=True)
class ClientSettings:
    """How the client talks to the API. Defaults suit the public Gcore API."""

    rate_limit: float | None = 10.0  # requests/second shared by all threads; None = unlimited
    concurrency: int = 8  # pages in flight in a sweep; the apply worker pool uses the same number
    timeout: float = 30.0  # seconds for reading/writing one response
    connect_timeout: float = 5.0
    retries: int = 4  # retries after the first attempt (so 5 attempts at most)
    backoff_base: float = 0.5  # seconds; full jitter over base * 2**attempt
    backoff_max: float = 8.0
    retry_after_max: float = 60.0  # a longer Retry-After is capped (and logged)
    user_agent: str = f"reconciler/{__version__}"

    def __post_init__(self) -> None:
        if self.rate_limit is not None and not (
            self.rate_limit > 0 and math.isfinite(self.rate_limit)
        ):
            raise ConfigError(
                f"rate limit must be a positive number or unlimited, not {self.rate_limit}"
            )
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        for name in ("timeout", "connect_timeout"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive number of seconds, not {value}")
        if self.retries < 0:
            raise ConfigError(f"retries must be 0 or more, not {self.retries}")
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
            (ENV_CONCURRENCY, "concurrency", _parse_positive_int),
            (ENV_TIMEOUT, "timeout", _parse_seconds),
            (ENV_RETRIES, "retries", _parse_count),
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
    value = _float(text, "a number of requests per second, or 0/none for unlimited")
    if value < 0:
        raise ValueError("expected a number of requests per second, or 0/none for unlimited")
    return None if value == 0 else value


def _parse_positive_int(text: str) -> int:
    value = _int(text, "a whole number of at least 1")
    if value < 1:
        raise ValueError("expected a whole number of at least 1")
    return value


def _parse_count(text: str) -> int:
    value = _int(text, "a whole number of 0 or more")
    if value < 0:
        raise ValueError("expected a whole number of 0 or more")
    return value


def _parse_seconds(text: str) -> float:
    value = _float(text, "a positive number of seconds")
    if value <= 0:
        raise ValueError("expected a positive number of seconds")
    return value


def _float(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected {expected}")
    return value


def _int(text: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected {expected}") from None
