"""The command line: parse, call the library, render, exit code (docs/cli.md is the contract).

Knows click, the environment variables and the terminal; every decision lives in the library.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from reconciler import __version__
from reconciler.api.transport import ClientStats
from reconciler.cli.account import open_account, rate_note
from reconciler.cli.options import (
    account_options,
    connection_options,
    paths_argument,
    run_options,
    split_paths,
)
from reconciler.errors import ConfigError, ManifestError, ReconcilerError
from reconciler.model.changes import ChangeResult, Plan
from reconciler.redact import redact_registered
from reconciler.render.formats import Format, plan_json, render_plan, render_report, report_json
from reconciler.render.inert import escape_controls, json_text, terminal_line
from reconciler.render.lines import headline, plan_summary_line

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_HELD = 0, 1, 2, 3


class ReconcilerGroup(click.Group):
    """Catches `ReconcilerError` once: a redacted message on stderr and its exit code. The
    `simulator` group is imported only when asked for (`plan` and `apply` never load it)."""

    LAZY = {"simulator": "reconciler.simulator.cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module = importlib.import_module(self.LAZY[cmd_name])
            self.add_command(getattr(module, cmd_name))
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReconcilerError as error:
            if isinstance(error, ManifestError):
                # Problems never quote secret values (the loader's rule); the field-value rule
                # of redact_text would mask the words after `spec.srt_passphrase:`. One line per
                # problem, whatever the path or a quoted value holds.
                for problem in error.problems:
                    click.echo(escape_controls(redact_registered(str(problem))), err=True)
                count = len(error.problems)
                click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
            else:
                click.echo(f"error: {terminal_line(str(error))}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


ENV_LOG = "RECONCILER_LOG"


class RedactingHandler(logging.Handler):
    """Library log records on stderr, redacted (invariant 10: logs are an output too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(terminal_line(self.format(record)), err=True)
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


def _transport() -> Any:
    """The httpx transport given as `main(obj=...)` (as httpx's MockTransport: tests route the
    real command line to an in-process simulator); None, the default, is the network."""
    return click.get_current_context().obj


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
            line = terminal_line(
                f"[{self.count}/{self.total}] {result.outcome} {headline(result.change)}"
            )
            click.echo(f"\r\x1b[K{line[:120]}", err=True, nl=False, color=True)

    def close(self) -> None:
        if self.enabled and self.count:
            click.echo("\r\x1b[K", err=True, nl=False, color=True)


# --- commands -----------------------------------------------------------------------------------


@main.command()
@paths_argument
@click.option("--set-name", help="Ownership scope when the manifests have no Settings document.")
def validate(paths: tuple[str, ...], set_name: str | None) -> None:
    """Check manifests offline (no credentials, no request).

    Exit 0 valid, 1 invalid (every problem printed as path:line: field: message on stderr).
    """
    from reconciler.manifest import load_manifests

    paths = split_paths({}, paths)
    desired = load_manifests(list(paths), set_name=set_name)
    counts = (len(desired.streams), len(desired.broadcasts), len(desired.cleanups))
    click.echo(
        f"{counts[0]} stream{'s' if counts[0] != 1 else ''}, "
        f"{counts[1]} broadcast{'s' if counts[1] != 1 else ''}, "
        f"{counts[2]} cleanup polic{'ies' if counts[2] != 1 else 'y'}: valid"
    )


@main.command()
@paths_argument
@account_options
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

    paths = split_paths(kw, paths)
    options = run_options(kw)
    desired = load_desired(paths, options)  # invalid manifests: no request at all
    with open_account(kw, _transport()) as account:
        options = replace(options, now=account.now)
        _live, the_plan = plan_against(desired, account.api, options)
    _out(render_plan(the_plan, kw["output"], color=_color()))
    _note_rate(account.stats())
    if detailed_exitcode and not the_plan.is_empty:
        _exit(EXIT_CHANGES)


@main.command()
@paths_argument
@account_options
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
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of this run's lock if it dies without releasing it (refreshed while running).",
)
@click.option(
    "--lock-owner",
    envvar="RECONCILER_LOCK_OWNER",
    default="",
    metavar="TEXT",
    help="Who holds the lock, as other runs will name it (e.g. the CI job URL). "
    "Default: user@host pid N. Env: RECONCILER_LOCK_OWNER.",
)
def apply(
    paths: tuple[str, ...],
    yes: bool,
    lock_wait: float,
    lock_ttl: float,
    lock_owner: str,
    **kw: Any,
) -> None:
    """Make the account match the manifests, in the platform's lifecycle order.

    Exit 0 converged, 1 a change failed (or an error), 3 a change was held back by a safety rule.
    """
    from reconciler.pipeline import LockOptions, apply_desired, load_desired, plan_against

    paths = split_paths(kw, paths)
    fmt = Format(kw["output"])
    options = run_options(kw)
    desired = load_desired(paths, options)
    with open_account(kw, _transport()) as account:
        options = replace(options, now=account.now)
        live, shown = plan_against(desired, account.api, options)
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
            lock=LockOptions(owner=lock_owner, ttl=lock_ttl, wait=lock_wait),
            workers=account.settings.concurrency,
            on_start=lambda fresh: _announce_replan(fresh, shown, fmt, progress),
            on_result=progress.result,
            live=live,  # the read the plan shown came from: spares the lock a sweep
        )
        progress.close()
    if fmt is Format.JSON:
        value = report_json(run.report)
        _out(json_text({"plan": plan_json(run.plan), **value}))
    elif shown.pending or run.report.results:
        click.echo("")
        _out(render_report(run.report, fmt, color=_color()))
    _note_rate(account.stats())
    _exit(run.report.exit_code)


def _note_rate(stats: ClientStats) -> None:
    note = rate_note(stats)
    if note:
        click.echo(note, err=True)  # stderr: stdout stays the plan or report (JSON included)


def _announce_replan(fresh: Plan, shown: Plan, fmt: Format, progress: Progress) -> None:
    progress.start(len(fresh.changes))
    if fmt is Format.TEXT and sorted(c.id for c in fresh.changes) != sorted(
        c.id for c in shown.changes
    ):
        click.echo(
            "\nThe account changed since the plan above was computed; applying the fresh plan: "
            + terminal_line(plan_summary_line(fresh)),
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
@connection_options
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
    """Write manifests for what the set owns (applying them to the same account is a no-op).

    Exit 0, 1 error.
    """
    from reconciler.export import export_account

    paths = split_paths(kw, paths, required=False)
    if set_name is None:
        if not paths:
            raise ConfigError("export needs the set name: pass --set-name or the manifests' PATH")
        from reconciler.pipeline import RunOptions, load_desired

        set_name = load_desired(paths, RunOptions()).settings.set_name
    with open_account(kw, _transport()) as account:
        text = export_account(account.api, set_name=set_name, include_unowned=include_unowned)
    if out_file:
        try:
            Path(out_file).write_text(text, encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"--file {out_file}: cannot write it ({error.strerror})") from None
        click.echo(f"wrote {out_file}", err=True)
    else:
        _out(text)


@main.command()
@paths_argument
@connection_options
@click.option("--set-name", help="Ownership scope when there is no Settings document.")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
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
    """Show each managed stream: live, recording, and its latest recordings' processing state.

    Exit 0, 1 error.
    """
    from reconciler.pipeline import RunOptions, load_desired
    from reconciler.status import read_status, render_status

    paths = split_paths(kw, paths)
    desired = load_desired(paths, RunOptions(set_name=set_name))
    with open_account(kw, _transport()) as account:
        rows = read_status(desired, account.api, latest=latest)
    _out(render_status(rows, output))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="[PATH...]")
@connection_options
@click.option("--set-name", help="The set to unlock (default: the Settings document in PATH).")
@click.option("--yes", "-y", is_flag=True, help="Unlock without asking (needed off a terminal).")
def unlock(paths: tuple[str, ...], set_name: str | None, yes: bool, **kw: Any) -> None:
    """Remove the set's apply lock left by a run that died (like `terraform force-unlock`).

    Only when no apply of the set is running: a live holder would then write beside another run.
    Exit 0 removed (or there was none), 1 error.
    """
    from reconciler.lock.lease import break_lock, find_locks
    from reconciler.lock.record import format_time

    paths = split_paths(kw, paths, required=False)
    if set_name is None:
        if not paths:
            raise ConfigError("unlock needs the set name: pass --set-name or the manifests' PATH")
        from reconciler.pipeline import RunOptions, load_desired

        set_name = load_desired(paths, RunOptions()).settings.set_name
    with open_account(kw, _transport()) as account:
        held = find_locks(account.api, set_name)
        if not held:
            click.echo(f"manifest set '{terminal_line(set_name)}' is not locked")
            return
        for record in held:
            until = format_time(record.expires_at)
            # The owner is text from the account: anyone with API access can write it.
            click.echo(
                terminal_line(
                    f"lock of '{set_name}' held by '{record.owner}' until {until} "
                    f"(stream id {record.stream_id})"
                )
            )
        if not yes:
            if not stdin_is_terminal():
                raise ConfigError("refusing to unlock without --yes when not on a terminal")
            click.confirm("Remove it?", abort=True)
        removed = break_lock(account.api, set_name)
    count = f"{len(removed)} lock{'s' if len(removed) != 1 else ''}"
    click.echo(terminal_line(f"removed {count} of '{set_name}'"))


@main.command()
def schema() -> None:
    """Print the JSON Schema of the manifest format (for editors). Exit 0."""
    from reconciler.manifest import manifest_json_schema

    click.echo(json.dumps(manifest_json_schema(), indent=2, sort_keys=False))
