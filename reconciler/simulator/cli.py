"""`reconciler simulator serve`: the simulator on a real port, configured by flags.

The project's CLI loads this group only when `reconciler simulator ...` is asked for.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from reconciler.simulator.config import Faults, SimulatorConfig
from reconciler.simulator.core import Simulator
from reconciler.simulator.server import DEFAULT_IDLE_TIMEOUT, start_server

DEFAULT_KEY = "sim-key"


class _FiniteRange(click.FloatRange):
    """click's FloatRange refusing `nan` and `inf` (its range lets NaN through). The project's CLI
    has the same type (cli/options.py FiniteFloatRange); the simulator imports none of it."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number{self._bounds()}.", param, ctx)
        return super().convert(number, param, ctx)

    def _bounds(self) -> str:
        """As click writes them: ` in the range 0<=x<=1`, ` in the range x>0`."""
        low, high = ("<" if self.min_open else "<="), ("<" if self.max_open else "<=")
        if self.min is None:
            return ""  # every flag here has a lower bound
        if self.max is None:
            return f" in the range x{low.replace('<', '>')}{self.min:g}"
        return f" in the range {self.min:g}{low}x{high}{self.max:g}"


@click.group()
def simulator() -> None:
    """A local, stateful Gcore Streaming API for tests, CI and trying the tool."""


@simulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port (0 = any free port).",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False),
    help="SQLite file holding the state across restarts (default: in memory).",
)
@click.option(
    "--api-key",
    envvar="GCORE_API_KEY",
    default=DEFAULT_KEY,
    show_envvar=True,
    help=f"Key clients must send as 'Authorization: APIKey <key>'. Defaults to "
    f"$GCORE_API_KEY, else the literal {DEFAULT_KEY!r}.",
)
@click.option("--webhook-url", help="POST webhook payloads (stream, broadcast, video) here.")
@click.option(
    "--page-size",
    default=25,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Objects per list page (the platform's is 25).",
)
@click.option(
    "--active-stream-limit",
    default=50,
    show_default=True,
    type=click.IntRange(0),
    help="Streams the account may have active at once (activating one more is refused).",
)
@click.option(
    "--broadcast-create-empty-body",
    is_flag=True,
    help="Answer broadcast creates with an empty 200 body, as the official spec.",
)
@click.option("--latency-ms", default=0.0, type=_FiniteRange(0), help="Fault: added latency.")
@click.option(
    "--error-rate",
    default=0.0,
    type=_FiniteRange(0, 1),
    help="Fault: share of API requests answered 5xx (no side effects).",
)
@click.option(
    "--rate-limit-rps",
    type=_FiniteRange(0, min_open=True),
    help="Fault: token-bucket rate limit; 429 with Retry-After past it.",
)
@click.option(
    "--drop-create-rate",
    default=0.0,
    type=_FiniteRange(0, 1),
    help="Fault: share of creates that commit, then close the connection unanswered.",
)
@click.option("--seed", type=int, help="Seed of the fault dice (reproducible runs).")
@click.option(
    "--idle-timeout",
    default=DEFAULT_IDLE_TIMEOUT,
    show_default=True,
    type=_FiniteRange(0, 3600, min_open=True),
    metavar="SECONDS",
    help="Close a connection idle this long (each open connection holds a thread).",
)
def serve(
    host: str,
    port: int,
    state_path: str | None,
    api_key: str,
    webhook_url: str | None,
    page_size: int,
    active_stream_limit: int,
    broadcast_create_empty_body: bool,
    latency_ms: float,
    error_rate: float,
    rate_limit_rps: float | None,
    drop_create_rate: float,
    seed: int | None,
    idle_timeout: float,
) -> None:
    """Serve the simulated Gcore Streaming API until interrupted (Ctrl-C or SIGTERM).

    Exit 0 when stopped, 1 when the port or the state file cannot be opened.
    """
    faults = Faults(latency_ms, error_rate, rate_limit_rps, drop_create_rate, seed)
    config = SimulatorConfig(
        api_key=api_key,
        state_path=state_path,
        webhook_url=webhook_url,
        page_size=page_size,
        active_stream_limit=active_stream_limit,
        broadcast_create_returns_body=not broadcast_create_empty_body,
        faults=faults,
    )
    try:
        if state_path:  # as --simulator=FILE does: `--state .reconciler/sim.sqlite` just works
            Path(state_path).parent.mkdir(parents=True, exist_ok=True)
        sim = Simulator(config)
    except Exception as err:  # e.g. an unreadable state file: a message, not a traceback
        raise click.ClickException(f"--state {state_path}: {err}") from None
    try:
        server = start_server(sim, host=host, port=port, idle_timeout=idle_timeout)
    except OSError as err:
        sim.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {err}") from None
    key_source = "GCORE_API_KEY" if os.environ.get("GCORE_API_KEY") == api_key else "--api-key"
    if api_key == DEFAULT_KEY:
        key_source = f"the default key {DEFAULT_KEY!r}"
    click.echo(
        f"Gcore Streaming API simulator on {server.url} (API key from {key_source}; "
        f"state: {state_path or 'in memory'})"
    )
    click.echo(f"control API: {server.url}/_simulator/  (Ctrl-C to stop)")
    _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sim.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """SIGTERM (`kill`, docker stop, CI teardown) stops as Ctrl-C does: exit 0, state closed.
    SIGINT too, even when a non-interactive shell's `&` started us with it ignored."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
