"""The options shared by the commands (connection, guards, output) and how they become
`RunOptions`. Knows click; every decision lives in the library.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.api.settings import (
    CONCURRENCY_RANGE,
    RETRIES_RANGE,
    TIMEOUT_MAX,
    ClientSettings,
)
from reconciler.cli.account import DEFAULT_SIMULATOR_STATE
from reconciler.render.formats import Format

_DEFAULTS = ClientSettings()  # the defaults the help shows are the ones the client uses


def paths_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    # Not `required`: `--simulator manifests/` hands the path to --simulator; split_paths
    # gives it back and checks that at least one path is left.
    return click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="PATH...")(f)


def _apply_all(f: Callable[..., Any], options: list[Callable[..., Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        f = option(f)
    return f


def connection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Where the account is (--simulator or GCORE_*) and how the client paces its calls."""
    return _apply_all(
        f,
        [
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
                type=click.FloatRange(0, TIMEOUT_MAX, min_open=True),
                help="Seconds for a whole request (connect, send, the full answer). "
                f"Env: RECONCILER_TIMEOUT; default {_DEFAULTS.timeout:g}.",
            ),
            click.option(
                "--retries",
                type=click.IntRange(*RETRIES_RANGE),
                help="Retries of reads and idempotent writes. "
                f"Env: RECONCILER_RETRIES; default {_DEFAULTS.retries}.",
            ),
        ],
    )


def account_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """plan and apply: connection, set name, prune and guard overrides, output format."""
    return _apply_all(
        connection_options(f),
        [
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
                type=click.FloatRange(0, 100),
                help="Deletions per kind and run, as a percentage of the owned objects (cap).",
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


def split_paths(
    kw: dict[str, Any], paths: tuple[str, ...], *, required: bool = True
) -> tuple[str, ...]:
    """`--simulator manifests/` reads as --simulator=manifests/ to click: give the path back."""
    state = kw.get("simulator_state")
    if state is not None and (Path(state).is_dir() or state.endswith((".yaml", ".yml", "/"))):
        kw["simulator_state"] = DEFAULT_SIMULATOR_STATE
        paths = (state, *paths)
    if required and not paths:
        raise click.UsageError("Missing argument 'PATH...': the manifest files or directories.")
    return paths


def run_options(kw: dict[str, Any]) -> Any:
    from reconciler.pipeline import RunOptions

    return RunOptions(
        set_name=kw.get("set_name"),
        prune=False if kw.get("no_prune") else None,
        allow_live_changes=bool(kw.get("allow_live_changes")),
        allow_empty_prune=kw.get("allow_empty_prune"),
        max_deletions=kw.get("max_deletions"),
        max_deletion_percent=kw.get("max_deletion_percent"),
    )
