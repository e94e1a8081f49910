"""Where the account is: the embedded simulator (--simulator) or GCORE_API_KEY at GCORE_BASE_URL,
and how the client paces its calls. Knows the environment variables, not the commands.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.api.settings import ClientSettings, parse_rate_limit
from reconciler.api.transport import ClientStats
from reconciler.errors import ConfigError
from reconciler.redact import register_secret

ENV_API_KEY = "GCORE_API_KEY"
ENV_BASE_URL = "GCORE_BASE_URL"
DEFAULT_BASE_URL = "https://api.gcore.com"
DEFAULT_SIMULATOR_STATE = ".reconciler/simulator.sqlite"
SIMULATOR_KEY = "embedded-simulator-key"  # the embedded simulator's own key, never a real one
SIMULATOR_URL = "http://simulator.invalid"


@dataclass(frozen=True)
class ConnectionOptions:
    """Where the account is and how the client paces its calls; None = env or default."""

    simulator_state: str | None = None  # --simulator[=FILE]
    rate_limit: str | None = None  # parsed by the client settings ("0"/"none" = unlimited)
    concurrency: int | None = None
    timeout: float | None = None
    retries: int | None = None


@dataclass(frozen=True)
class Account:
    api: StreamingAPI
    settings: ClientSettings
    where: str  # for messages: the base URL or the simulator file
    stats: Callable[[], ClientStats]  # what the client sent so far


def rate_note(stats: ClientStats) -> str | None:
    """The summary's line on 429s, when they slowed the client down."""
    if stats.slowed_to is None:
        return None
    answers = "answer" if stats.rate_limited == 1 else "answers"
    return (
        f"rate limit: slowed to {stats.slowed_to:g} requests/s after {stats.rate_limited} "
        f"{answers} 429"
    )


def client_settings(connection: ConnectionOptions) -> ClientSettings:
    rate: float | None = None
    unlimited = False
    if connection.rate_limit is not None:
        try:
            rate = parse_rate_limit(connection.rate_limit)
        except ValueError as error:
            raise ConfigError(f"--rate-limit {connection.rate_limit!r}: {error}") from None
        unlimited = rate is None
    settings = ClientSettings.from_env(
        os.environ,
        rate_limit=rate,
        concurrency=connection.concurrency,
        timeout=connection.timeout,
        retries=connection.retries,
    )
    return replace(settings, rate_limit=None) if unlimited else settings


@contextmanager
def open_account(connection: ConnectionOptions, transport: Any = None) -> Iterator[Account]:
    """The API to talk to: the embedded simulator with --simulator, else GCORE_API_KEY at
    GCORE_BASE_URL through `transport` (an httpx transport; None = the network). Never falls
    back silently from one to the other."""
    from reconciler.api.client import StreamingClient

    settings = client_settings(connection)
    with ExitStack() as stack:
        state = connection.simulator_state
        if state is not None:
            from reconciler.simulator import Simulator, SimulatorConfig

            try:
                Path(state).parent.mkdir(parents=True, exist_ok=True)
                sim = Simulator(SimulatorConfig(api_key=SIMULATOR_KEY, state_path=str(state)))
            except (OSError, ValueError) as error:
                raise ConfigError(
                    f"--simulator={state}: cannot open the simulator's state file ({error}); "
                    "name another file with --simulator=FILE"
                ) from None
            stack.callback(sim.close)
            settings = replace(settings, rate_limit=None)  # a local simulator needs no pacing
            client = StreamingClient(
                SIMULATOR_URL, SIMULATOR_KEY, transport=sim.transport(), settings=settings
            )
            where = f"embedded simulator ({state})"
        else:
            key = os.environ.get(ENV_API_KEY, "").strip()
            if not key:
                raise ConfigError(
                    f"no API key: set {ENV_API_KEY} (and {ENV_BASE_URL} if not "
                    f"{DEFAULT_BASE_URL}), or pass --simulator to try the tool on an embedded "
                    "simulator"
                )
            register_secret(key)
            base_url = os.environ.get(ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL
            client = StreamingClient(base_url, key, settings=settings, transport=transport)
            where = base_url
        stack.callback(client.close)
        yield Account(api=client, settings=settings, where=where, stats=client.stats)
