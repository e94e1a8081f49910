"""The command line: parse, call the library, render, exit code (docs/cli.md is the contract).

Knows click, the environment variables and the terminal; every decision lives in the library.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import __version__
from reconciler.api.protocol import StreamingAPI
from reconciler.api.settings import ClientSettings, parse_rate_limit
from reconciler.changes import ChangeResult, Plan
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.redact import redact_text, register_secret
from reconciler.render import Format, plan_json, render_plan, render_report, report_json
from reconciler.render_lines import headline, plan_summary_line
from reconciler.simulator.cli import simulator

ENV_API_KEY = "GCORE_API_KEY"
ENV_BASE_URL = "GCORE_BASE_URL"
DEFAULT_BASE_URL = "https://api.gcore.com"
DEFAULT_SIMULATOR_STATE = ".reconciler/simulator.sqlite"
SIMULATOR_KEY = "embedded-simulator-key"  # the embedded simulator's own key, never a real one
SIMULATOR_URL = "http://simulator.invalid"

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_HELD = 0, 1, 2, 3

# The httpx transport seam (as httpx's MockTransport): tests route the real command line to an
# in-process simulator by setting this; None = the network at GCORE_BASE_URL.
transport_override: Any = None


class ReconcilerGroup(click.Group):
    """Catches `ReconcilerError` once: a redacted message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as error:
            message = redact_text(str(error))
            label = "invalid manifests" if type(error).__name__ == "ManifestError" else "error"
            if label == "invalid manifests":
                count = len(getattr(error, "problems", ()))
                click.echo(message, err=True)
                click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
            else:
                click.echo(f"{label}: {message}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


ENV_LOG = "RECONCILER_LOG"


class RedactingHandler(logging.Handler):
    """Library log records on stderr, redacted (invariant 10: logs are an output too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(redact_text(self.format(record)), err=True)
        except Exception:  # a log line must never break a run
            self.handleError(record)


def _configure_logging() -> None:
    logger = logging.getLogger("reconciler")
    level_name = os.environ.get(ENV_LOG, "warning").strip().upper() or "WARNING"
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise ConfigError(f"{ENV_LOG}={level_name.lower()!r}: use debug, info, warning or error")
    for handler in [h for h in logger.handlers if isinstance(h, RedactingHandler)]:
        logger.removeHandler(handler)
    handler = RedactingHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@click.group(cls=ReconcilerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reconciler")
def main() -> None:
    """Make a Gcore Streaming account match YAML manifests (streams, broadcasts, cleanup).

    Credentials: GCORE_API_KEY and GCORE_BASE_URL (default https://api.gcore.com), or
    --simulator for an embedded local simulator. Exit codes: see `reconciler COMMAND --help`.
    """
    _configure_logging()


# --- shared options -----------------------------------------------------------------------------


def _paths_argument(f: Callable[..., Any]) -> Callable[..., Any]:
    # Not `required`: `--simulator manifests/` hands the path to --simulator; _split_paths
    # gives it back and checks that at least one path is left.
    return click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="PATH...")(f)


def _apply_all(f: Callable[..., Any], options: list[Callable[..., Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        f = option(f)
    return f


def _connection_options(f: Callable[..., Any]) -> Callable[..., Any]:
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
                "Env: RECONCILER_RATE_LIMIT.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1),
                help="Requests in flight (list pages, apply workers). Env: RECONCILER_CONCURRENCY.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(0, min_open=True),
                help="Seconds per response. Env: RECONCILER_TIMEOUT.",
            ),
            click.option(
                "--retries",
                type=click.IntRange(0),
                help="Retries of reads and idempotent writes. Env: RECONCILER_RETRIES.",
            ),
        ],
    )


def _account_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """plan and apply: connection, set name, prune and guard overrides, output format."""
    return _apply_all(
        _connection_options(f),
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


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Account:
    api: StreamingAPI
    settings: ClientSettings
    where: str  # for messages: the base URL or the simulator file
    # The account's clock: cleanup ages streams against it (the simulator's clock can be advanced).
    now: Callable[[], datetime]


def _client_settings(kw: dict[str, Any]) -> ClientSettings:
    rate: float | None = None
    unlimited = False
    if kw.get("rate_limit") is not None:
        try:
            rate = parse_rate_limit(str(kw["rate_limit"]))
        except ValueError as error:
            raise ConfigError(f"--rate-limit {kw['rate_limit']!r}: {error}") from None
        unlimited = rate is None
    settings = ClientSettings.from_env(
        os.environ,
        rate_limit=rate,
        concurrency=kw.get("concurrency"),
        timeout=kw.get("timeout"),
        retries=kw.get("retries"),
    )
    return replace(settings, rate_limit=None) if unlimited else settings


@contextmanager
def open_account(kw: dict[str, Any]) -> Iterator[Account]:
    """The API to talk to: the embedded simulator with --simulator, else GCORE_API_KEY at
    GCORE_BASE_URL. Never falls back silently from one to the other."""
    from reconciler.api.client import StreamingClient

    settings = _client_settings(kw)
    with ExitStack() as stack:
        state = kw.get("simulator_state")
        if state is not None:
            from reconciler.simulator import Simulator, SimulatorConfig

            Path(state).parent.mkdir(parents=True, exist_ok=True)
            sim = Simulator(SimulatorConfig(api_key=SIMULATOR_KEY, state_path=str(state)))
            stack.callback(sim.close)
            settings = replace(settings, rate_limit=None)  # a local simulator needs no pacing
            client = StreamingClient(
                SIMULATOR_URL, SIMULATOR_KEY, transport=sim.transport(), settings=settings
            )
            where = f"embedded simulator ({state})"
            now = sim.now
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
            client = StreamingClient(base_url, key, settings=settings, transport=transport_override)
            where = base_url
            now = _wall_clock
        stack.callback(client.close)
        yield Account(api=client, settings=settings, where=where, now=now)


def _split_paths(
    kw: dict[str, Any], paths: tuple[str, ...], *, required: bool = True
) -> tuple[str, ...]:
    """`--simulator manifests/` reads as --simulator=manifests/ to click: give the path back."""
    state = kw.get("simulator_state")
    if state is not None and (Path(state).is_dir() or state.endswith((".yaml", ".yml"))):
        kw["simulator_state"] = DEFAULT_SIMULATOR_STATE
        paths = (state, *paths)
    if required and not paths:
        raise click.UsageError("Missing argument 'PATH...': the manifest files or directories.")
    return paths


def _run_options(kw: dict[str, Any]) -> Any:
    from reconciler.pipeline import RunOptions

    return RunOptions(
        set_name=kw.get("set_name"),
        prune=False if kw.get("no_prune") else None,
        allow_live_changes=bool(kw.get("allow_live_changes")),
        allow_empty_prune=kw.get("allow_empty_prune"),
        max_deletions=kw.get("max_deletions"),
        max_deletion_percent=kw.get("max_deletion_percent"),
    )


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _out(text: str) -> None:
    click.echo(text, nl=False)


def _exit(code: int) -> NoReturn:
    raise SystemExit(code)


class Progress:
    """`[12/40] done + stream studio-a` on one rewritten stderr line, only on a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self.count = 0

    def start(self, total: int) -> None:
        self.total = total

    def result(self, result: ChangeResult) -> None:
        self.count += 1
        if self.enabled:
            line = redact_text(
                f"[{self.count}/{self.total}] {result.outcome} {headline(result.change)}"
            )
            click.echo(f"\r\x1b[K{line[:120]}", err=True, nl=False, color=True)

    def close(self) -> None:
        if self.enabled and self.count:
            click.echo("\r\x1b[K", err=True, nl=False, color=True)


# --- commands -----------------------------------------------------------------------------------


@main.command()
@_paths_argument
@click.option("--set-name", help="Ownership scope when the manifests have no Settings document.")
def validate(paths: tuple[str, ...], set_name: str | None) -> None:
    """Check manifests offline (no credentials, no request).

    Exit 0 valid, 1 invalid (every problem printed as path:line: field: message on stderr).
    """
    from reconciler.manifest import load_manifests

    paths = _split_paths({}, paths)
    desired = load_manifests(list(paths), set_name=set_name)
    counts = (len(desired.streams), len(desired.broadcasts), len(desired.cleanups))
    click.echo(
        f"{counts[0]} stream{'s' if counts[0] != 1 else ''}, "
        f"{counts[1]} broadcast{'s' if counts[1] != 1 else ''}, "
        f"{counts[2]} cleanup polic{'ies' if counts[2] != 1 else 'y'}: valid"
    )


@main.command()
@_paths_argument
@_account_options
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are changes (held ones included).",
)
def plan(paths: tuple[str, ...], detailed_exitcode: bool, **kw: Any) -> None:
    """Show what apply would change. Never writes.

    Exit 0 (with --detailed-exitcode: 0 no changes, 2 changes), 1 error.
    """
    from reconciler.pipeline import load_desired, plan_against

    paths = _split_paths(kw, paths)
    options = _run_options(kw)
    desired = load_desired(paths, options)  # invalid manifests: no request at all
    with open_account(kw) as account:
        options = replace(options, now=account.now)
        _live, the_plan = plan_against(desired, account.api, options)
    _out(render_plan(the_plan, kw["output"], color=_color()))
    if detailed_exitcode and not the_plan.is_empty:
        _exit(EXIT_CHANGES)


@main.command()
@_paths_argument
@_account_options
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (needed off a terminal).")
@click.option(
    "--lock-wait",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another run's lock on the set before giving up.",
)
@click.option(
    "--lock-ttl",
    type=click.FloatRange(1),
    default=600.0,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of this run's lock if it dies without releasing it (refreshed while running).",
)
def apply(paths: tuple[str, ...], yes: bool, lock_wait: float, lock_ttl: float, **kw: Any) -> None:
    """Make the account match the manifests, in the platform's lifecycle order.

    Exit 0 converged, 1 a change failed (or an error), 3 a change was held back by a safety rule.
    """
    from reconciler.pipeline import LockOptions, apply_desired, load_desired, plan_against

    paths = _split_paths(kw, paths)
    fmt = Format(kw["output"])
    options = _run_options(kw)
    desired = load_desired(paths, options)
    with open_account(kw) as account:
        options = replace(options, now=account.now)
        _live, shown = plan_against(desired, account.api, options)
        if fmt is not Format.JSON:
            _out(render_plan(shown, fmt, color=_color()))
        if shown.pending and not yes:
            _confirm(shown)
        progress = Progress(enabled=sys.stderr.isatty() and fmt is not Format.JSON)
        run = apply_desired(
            desired,
            account.api,
            shown,
            options,
            lock=LockOptions(ttl=lock_ttl, wait=lock_wait),
            workers=account.settings.concurrency,
            on_start=lambda fresh: _announce_replan(fresh, shown, fmt, progress),
            on_result=progress.result,
        )
        progress.close()
    if fmt is Format.JSON:
        value = report_json(run.report)
        _out(json.dumps({"plan": plan_json(run.plan), **value}, indent=2) + "\n")
    elif shown.pending or run.report.results:
        click.echo("")
        _out(render_report(run.report, fmt, color=_color()))
    _exit(run.report.exit_code)


def _announce_replan(fresh: Plan, shown: Plan, fmt: Format, progress: Progress) -> None:
    progress.start(len(fresh.changes))
    if fmt is Format.TEXT and sorted(c.id for c in fresh.changes) != sorted(
        c.id for c in shown.changes
    ):
        click.echo(
            "\nThe account changed since the plan above was computed; applying the fresh plan: "
            + plan_summary_line(fresh),
            err=True,
        )


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm(shown: Plan) -> None:
    if not stdin_is_terminal():
        raise ConfigError(
            "refusing to apply without confirmation: stdin is not a terminal; "
            "pass --yes to apply non-interactively (for example in CI or cron)"
        )
    if not click.confirm("\nApply these changes?", default=False, err=True):
        click.echo("Apply cancelled; nothing was changed.", err=True)
        _exit(EXIT_ERROR)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="[PATH...]")
@_connection_options
@click.option("--set-name", help="The set to export (default: the Settings document in PATH).")
@click.option(
    "--include-unowned",
    is_flag=True,
    help="Also write unmanaged streams and broadcasts, as explicit `adopt:` documents.",
)
@click.option(
    "--file",
    "-f",
    "out_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the YAML here instead of stdout.",
)
def export(
    paths: tuple[str, ...],
    set_name: str | None,
    include_unowned: bool,
    out_file: str | None,
    **kw: Any,
) -> None:
    """Write manifests for what the set owns (applying them to the same account is a no-op)."""
    from reconciler.export import export_account

    paths = _split_paths(kw, paths, required=False)
    if set_name is None:
        if not paths:
            raise ConfigError("export needs the set name: pass --set-name or the manifests' PATH")
        from reconciler.pipeline import RunOptions, load_desired

        set_name = load_desired(paths, RunOptions()).settings.set_name
    with open_account(kw) as account:
        text = export_account(account.api, set_name=set_name, include_unowned=include_unowned)
    if out_file:
        Path(out_file).write_text(text, encoding="utf-8")
        click.echo(f"wrote {out_file}", err=True)
    else:
        _out(text)


@main.command()
@_paths_argument
@_connection_options
@click.option("--set-name", help="Ownership scope when there is no Settings document.")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--latest",
    type=click.IntRange(0),
    default=3,
    show_default=True,
    help="Recordings shown per stream.",
)
def status(
    paths: tuple[str, ...], set_name: str | None, output: str, latest: int, **kw: Any
) -> None:
    """Show each managed stream: live, recording, and its latest recordings' processing state."""
    from reconciler.pipeline import RunOptions, load_desired
    from reconciler.status import read_status, render_status

    paths = _split_paths(kw, paths)
    desired = load_desired(paths, RunOptions(set_name=set_name))
    with open_account(kw) as account:
        rows = read_status(desired, account.api, latest=latest)
    _out(render_status(rows, output))


@main.command()
def schema() -> None:
    """Print the JSON Schema of the manifest format (for editors)."""
    from reconciler.manifest import manifest_json_schema

    click.echo(json.dumps(manifest_json_schema(), indent=2, sort_keys=False))


main.add_command(simulator)
