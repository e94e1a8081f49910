"""The options shared by the commands (connection, guards, output, logs) as typed values: each
decorator adds its click options and hands the command one frozen dataclass instead of loose
keyword arguments. Knows click; every decision lives in the library.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.api.settings import (
    CONCURRENCY_RANGE,
    RETRIES_RANGE,
    TIMEOUT_MAX,
    ClientSettings,
)
from reconciler.cli.account import DEFAULT_SIMULATOR_STATE, ConnectionOptions
from reconciler.cli.logs import LogFormat
from reconciler.lock.lease import DEFAULT_TTL, MAX_TTL, MIN_TTL
from reconciler.render.formats import Format

if TYPE_CHECKING:
    from reconciler.pipeline import RunOptions

_DEFAULTS = ClientSettings()  # the defaults the help shows are the ones the client uses

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@dataclass(frozen=True)
class AccountOptions:
    """plan and apply: the connection, the ownership scope, prune and guard overrides, output."""

    connection: ConnectionOptions
    set_name: str | None = None
    no_prune: bool = False
    allow_live_changes: bool = False
    allow_empty_prune: bool | None = None
    max_deletions: int | None = None
    max_deletion_percent: float | None = None
    drop_grace: float | None = None  # None: the command's default (0; watch: 10 s)
    output: Format = Format.TEXT

    def run_options(self, default_drop_grace: float = 0.0) -> RunOptions:
        from reconciler.pipeline import RunOptions

        return RunOptions(
            set_name=self.set_name,
            prune=False if self.no_prune else None,
            allow_live_changes=self.allow_live_changes,
            allow_empty_prune=self.allow_empty_prune,
            max_deletions=self.max_deletions,
            max_deletion_percent=self.max_deletion_percent,
            drop_grace=default_drop_grace if self.drop_grace is None else self.drop_grace,
        )


DROP_GRACE_MAX = 3600.0  # seconds; longer is a typo (and would hold every handover for hours)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that refuses `nan` and `inf`, for every fractional flag: click's own
    range lets NaN through (every comparison with it is false), and it crashed what used it."""

    name = "float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number{self._bounds()}.", param, ctx)
        return super().convert(number, param, ctx)

    def _bounds(self) -> str:
        """As click writes them: ` in the range 0<=x<=100`, ` in the range x>=0`."""
        low, high = ("<" if self.min_open else "<="), ("<" if self.max_open else "<=")
        if self.min is None:
            return "" if self.max is None else f" in the range x{high}{self.max:g}"
        if self.max is None:
            return f" in the range x{low.replace('<', '>')}{self.min:g}"
        return f" in the range {self.min:g}{low}x{high}{self.max:g}"


def _gathered(names: list[str], param: str, build: Callable[[dict[str, Any]], Any]) -> Decorator:
    """Wrap a command so that the click values `names` arrive as one value, `param`."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)  # keeps the click parameters declared below this decorator
        def command(*args: Any, **kw: Any) -> Any:
            values = {name: kw.pop(name) for name in names}
            return f(*args, **{param: build(values)}, **kw)

        return command

    return decorate


_CONNECTION_FIELDS = [f.name for f in fields(ConnectionOptions)]
_ACCOUNT_FIELDS = [f.name for f in fields(AccountOptions) if f.name != "connection"]


def _apply_all(f: Callable[..., Any], options: list[Decorator]) -> Callable[..., Any]:
    for option in reversed(options):
        f = option(f)
    return f


def paths_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    # Not `required`: `--simulator manifests/` hands the path to --simulator; split_paths
    # gives it back and checks that at least one path is left.
    return click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="PATH...")(f)


def _connection_flags() -> list[Decorator]:
    return [
        click.option(
            "--simulator",
            "simulator_state",
            is_flag=False,
            flag_value=DEFAULT_SIMULATOR_STATE,
            default=None,
            metavar="[STATE_FILE]",
            help="Run against an embedded simulator whose state persists in this SQLite file "
            f"(default {DEFAULT_SIMULATOR_STATE}). Use --simulator=FILE to name the file.",
        ),
        click.option(
            "--rate-limit",
            metavar="RPS",
            help="Requests per second to the API (0 or 'none' = unlimited). "
            f"Env: RECONCILER_RATE_LIMIT; default {_DEFAULTS.rate_limit:g}.",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(*CONCURRENCY_RANGE),
            help="Requests in flight (list pages, apply workers). "
            f"Env: RECONCILER_CONCURRENCY; default {_DEFAULTS.concurrency}.",
        ),
        click.option(
            "--timeout",
            type=FiniteFloatRange(0, TIMEOUT_MAX, min_open=True),
            help="Seconds for a whole request (connect, send, the full answer). "
            f"Env: RECONCILER_TIMEOUT; default {_DEFAULTS.timeout:g}.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(*RETRIES_RANGE),
            help="Retries of reads and idempotent writes. "
            f"Env: RECONCILER_RETRIES; default {_DEFAULTS.retries}.",
        ),
    ]


def connection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The command receives `connection: ConnectionOptions`."""
    gather = _gathered(_CONNECTION_FIELDS, "connection", lambda v: ConnectionOptions(**v))
    return _apply_all(gather(f), _connection_flags())


def _account_options(values: dict[str, Any]) -> AccountOptions:
    connection = ConnectionOptions(**{name: values.pop(name) for name in _CONNECTION_FIELDS})
    return AccountOptions(connection=connection, **{**values, "output": Format(values["output"])})


def account_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """plan and apply: the command receives `options: AccountOptions`."""
    gather = _gathered(_CONNECTION_FIELDS + _ACCOUNT_FIELDS, "options", _account_options)
    return _apply_all(
        gather(f),
        [
            *_connection_flags(),
            click.option(
                "--set-name",
                help="Ownership scope when there is no Settings document (else it must match).",
            ),
            click.option("--no-prune", is_flag=True, help="Never delete or release owned objects."),
            click.option(
                "--allow-live-changes",
                is_flag=True,
                help="Let changes through that would disturb a live stream.",
            ),
            click.option(
                "--allow-empty-prune",
                is_flag=True,
                default=None,
                help="Prune a kind even when its manifests became empty.",
            ),
            click.option(
                "--max-deletions", type=click.IntRange(0), help="Deletions per kind and run (cap)."
            ),
            click.option(
                "--max-deletion-percent",
                type=FiniteFloatRange(0, 100),
                help="Deletions per kind and run, as a percentage of the owned objects (cap).",
            ),
            click.option(
                "--drop-grace",
                type=FiniteFloatRange(0, DROP_GRACE_MAX),
                metavar="SECONDS",
                help="A stream whose encoder dropped less than this long ago counts as on air "
                "for the live-safety rule (a drop that short is an interruption, not the end of "
                "the show). Default 0; watch: 10.",
            ),
            click.option(
                "--output",
                "-o",
                "output",
                type=click.Choice([f.value for f in Format]),
                default=Format.TEXT.value,
                show_default=True,
                help="Output format.",
            ),
        ],
    )


def lock_options(ttl_help: str, owner_help: str) -> Decorator:
    """`--lock-ttl` and `--lock-owner`, shared by the commands that hold the set's lock (apply's
    run lock, watch's lease): one range, one default, one environment variable."""
    ttl = click.option(
        "--lock-ttl",
        type=FiniteFloatRange(MIN_TTL, MAX_TTL),
        default=float(DEFAULT_TTL),
        show_default=True,
        metavar="SECONDS",
        help=ttl_help,
    )
    owner = click.option(
        "--lock-owner",
        envvar="RECONCILER_LOCK_OWNER",
        default="",
        metavar="TEXT",
        help=f"{owner_help} Env: RECONCILER_LOCK_OWNER.",
    )
    return lambda f: ttl(owner(f))


def log_format_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The command receives `log_format: LogFormat`."""
    gather = _gathered(["log_format"], "log_format", lambda v: LogFormat(v["log_format"]))
    return click.option(
        "--log-format",
        type=click.Choice([f.value for f in LogFormat]),
        default=LogFormat.TEXT.value,
        show_default=True,
        help="Log lines on stderr: text, or json (one object per event, then a summary line).",
    )(gather(f))


def split_paths(
    connection: ConnectionOptions, paths: tuple[str, ...], *, required: bool = True
) -> tuple[tuple[str, ...], ConnectionOptions]:
    """`--simulator manifests/` reads as --simulator=manifests/ to click: give the path back."""
    state = connection.simulator_state
    if state is not None and (Path(state).is_dir() or state.endswith((".yaml", ".yml", "/"))):
        connection = replace(connection, simulator_state=DEFAULT_SIMULATOR_STATE)
        paths = (state, *paths)
    if required and not paths:
        raise click.UsageError("Missing argument 'PATH...': the manifest files or directories.")
    return paths, connection
