"""The command line: parse, call the library, render, exit code (docs/cli.md is the contract).

Knows click, the environment variables and the terminal; every decision lives in the library.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, cast

import click

from reconciler import __version__
from reconciler.api.transport import ClientStats
from reconciler.cli.account import ConnectionOptions, open_account, rate_note
from reconciler.cli.logs import LogFormat, RunEvents, configure_logging
from reconciler.cli.options import (
    AccountOptions,
    FiniteFloatRange,
    account_options,
    connection_options,
    lock_options,
    log_format_option,
    paths_argument,
    split_paths,
)
from reconciler.cli.watch_command import watch
from reconciler.errors import (
    ConfigError,
    ManifestError,
    PlanError,
    ReconcilerError,
    StoppedMidApply,
)
from reconciler.model.changes import ChangeResult, Plan, Report
from reconciler.redact import redact_registered
from reconciler.render.formats import Format, plan_json, render_plan, render_report, report_json
from reconciler.render.inert import escape_controls, json_text, terminal_line
from reconciler.render.lines import headline

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_HELD = 0, 1, 2, 3
REPLAN_NOTICE = "The account changed since the plan above was computed. This is the plan now:"


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread: unwinds exactly as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_EVENT = "reconciler.stop"  # ctx.meta key: set once a stop signal arrived


@contextlib.contextmanager
def _stop_on_signals(meta: MutableMapping[str, Any]) -> Iterator[None]:
    """SIGTERM and SIGHUP (CI timeouts, `docker stop`, a closed terminal) stop a run as SIGINT
    does: no change starts after the signal (the event in `meta` tells apply), the exception
    unwinds and releases the apply lock, exit 128 + the signal number. A signal the parent set to
    be ignored (`nohup`, `cmd &`) stays ignored. Handlers are restored on the way out."""
    stop = meta[STOP_EVENT] = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (an embedding program keeps its own)
        return

    def stop_run(signum: int, frame: object) -> None:
        stop.set()
        raise Interrupted(signum)

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, stop_run)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off for one batch run: the manifests, the live objects and
    the plan are many small objects that live to the end, and the collector would scan them
    again and again (about a third of the CPU of a 10,000 + 10,000 plan). Reference counting
    still frees everything else. At the end what survived is frozen, not scanned: re-enabling
    would start a full collection of everything the run allocated (about 0.09 s at 10,000 +
    10,000) just before the process ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


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
            with _stop_on_signals(ctx.meta):
                return super().invoke(ctx)
        except ReconcilerError as error:
            if isinstance(error, ManifestError):
                # Problems never quote secret values (the loader's rule); the field-value rule
                # of redact_text would mask the words after `spec.srt_passphrase:`. One line per
                # problem, whatever the path or a quoted value holds.
                for problem in error.listed:  # the warnings too (validate's unset ${VAR})
                    click.echo(escape_controls(redact_registered(str(problem))), err=True)
                count = len(error.problems)
                click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
            elif isinstance(error, PlanError):  # conflicts with the account: one line each
                for conflict in error.problems:
                    click.echo(f"error: {terminal_line(conflict)}", err=True)
            else:
                click.echo(f"error: {terminal_line(str(error))}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt as interrupt:
            code, message = _interruption(interrupt)
            click.echo(message, err=True)
            ctx.exit(code)


def _interruption(interrupt: KeyboardInterrupt) -> tuple[int, str]:
    """The exit code and message of a run stopped by a signal (Ctrl-C: SIGINT)."""
    signum = getattr(interrupt, "signum", signal.SIGINT)
    return 128 + signum, (
        f"interrupted by {signal.Signals(signum).name}: no change started after it; the apply "
        "lock, if this run held it, was released"
    )


@contextmanager
def _reported(command: str, log_format: LogFormat) -> Iterator[RunEvents]:
    """The run's events; with --log-format json its errors are JSON events too, and its last
    line is the summary (exit code, counts, requests), whatever the way out."""
    events = RunEvents(command, log_format)
    if events.json:
        configure_logging(log_format)
    code = EXIT_ERROR
    try:
        yield events
        code = EXIT_OK
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else EXIT_ERROR
        raise
    except KeyboardInterrupt as interrupt:
        code, message = _interruption(interrupt)
        if not events.json:
            raise  # the group prints it as text
        events.stopped(message, code)  # JSON lines only, the summary last
        raise SystemExit(code) from None
    except ReconcilerError as error:
        code = error.exit_code
        if not events.json:
            raise  # the group prints it as text
        events.error(error)
        raise SystemExit(code) from None
    finally:
        events.summary(code)
        if events.json:
            configure_logging()  # back to text: the process may run more (tests, embedding)


@click.group(cls=ReconcilerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="reconciler")
def main() -> None:
    """Make a Gcore Streaming account match YAML manifests (streams, broadcasts, cleanup).

    Credentials: GCORE_API_KEY and GCORE_BASE_URL (default https://api.gcore.com), or
    --simulator for an embedded local simulator. Exit codes: see `reconciler COMMAND --help`.
    """
    configure_logging()


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
    """Check manifests offline (no credentials, no secrets, no request).

    Exit 0 valid, 1 invalid (every problem printed as path:line: field: message on stderr).
    An unset ${VAR} is a warning on stderr (plan, apply and export need it), not a problem.
    """
    from reconciler.manifest import check_manifests

    paths, _ = split_paths(ConnectionOptions(), paths)
    checked = check_manifests(list(paths), set_name=set_name)
    for warning in checked.warnings:
        click.echo(escape_controls(str(warning)), err=True)
    counts = tuple(checked.declared.get(kind, 0) for kind in ("Stream", "Broadcast", "Cleanup"))
    click.echo(
        f"{counts[0]} stream{'s' if counts[0] != 1 else ''}, "
        f"{counts[1]} broadcast{'s' if counts[1] != 1 else ''}, "
        f"{counts[2]} cleanup polic{'ies' if counts[2] != 1 else 'y'}: valid"
    )


@main.command()
@paths_argument
@account_options
@log_format_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are changes (held ones included).",
)
def plan(
    paths: tuple[str, ...], detailed_exitcode: bool, log_format: LogFormat, options: AccountOptions
) -> None:
    """Show what apply would change. Never writes.

    Exit 0 (with --detailed-exitcode: 0 no changes, 2 changes), 1 error.
    """
    from reconciler.pipeline import load_desired, plan_against

    with _reported("plan", log_format) as events, _no_cyclic_gc():
        paths, connection = split_paths(options.connection, paths)
        run = options.run_options()
        desired = load_desired(paths, run)  # invalid manifests: no request at all
        with open_account(connection, _transport()) as account:
            events.stats = account.stats
            _live, the_plan = plan_against(desired, account.api, run)
        events.plan = the_plan
        _out(render_plan(the_plan, options.output, color=_color()))
        _note_rate(account.stats(), events)
        if detailed_exitcode and not the_plan.is_empty:
            _exit(EXIT_CHANGES)


@main.command()
@paths_argument
@account_options
@log_format_option
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (needed off a terminal).")
@click.option(
    "--lock-wait",
    type=FiniteFloatRange(0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another run's lock on the set before giving up.",
)
@lock_options(
    ttl_help="Lifetime of this run's lock if it dies without releasing it "
    "(refreshed while running).",
    owner_help="Who holds the lock, as other runs will name it (e.g. the CI job URL). "
    "Default: user@host pid N.",
)
def apply(
    paths: tuple[str, ...],
    yes: bool,
    lock_wait: float,
    lock_ttl: float,
    lock_owner: str,
    log_format: LogFormat,
    options: AccountOptions,
) -> None:
    """Make the account match the manifests, in the platform's lifecycle order.

    Exit 0 converged, 1 a change failed (or an error), 3 a change was held back by a safety rule.
    """
    from reconciler.pipeline import LockOptions, apply_desired, load_desired, plan_against

    fmt = options.output
    with _reported("apply", log_format) as events:
        lock = LockOptions(owner=lock_owner, ttl=lock_ttl, wait=lock_wait)  # bad values: no request
        paths, connection = split_paths(options.connection, paths)
        run_options = options.run_options()
        desired = load_desired(paths, run_options)
        with open_account(connection, _transport()) as account:
            events.stats = account.stats
            live, shown = plan_against(desired, account.api, run_options)
            events.plan = shown
            if fmt is not Format.JSON:
                _out(render_plan(shown, fmt, color=_color()))
            elif shown.pending and not yes:  # what the question is about; stdout stays JSON
                click.echo(render_plan(shown, Format.TEXT, color=_color()), err=True)
            if shown.pending and not yes and not _confirm():
                _cancelled()
            on_terminal = sys.stderr.isatty() and fmt is not Format.JSON and not events.json
            progress = Progress(enabled=on_terminal)

            def on_result(result: ChangeResult) -> None:
                progress.result(result)
                events.result(result)

            def on_start(fresh: Plan, replanned: bool) -> bool:
                progress.start(len(fresh.changes))
                if not replanned:
                    return True
                _announce_replan(fresh, fmt, events, asking=not yes and bool(fresh.pending))
                return yes or not fresh.pending or _confirm(again=True)

            try:
                run = apply_desired(
                    desired,
                    account.api,
                    shown,
                    run_options,
                    lock=lock,
                    workers=account.settings.concurrency,
                    on_start=on_start,
                    on_result=on_result,
                    live=live,  # the read the plan shown came from: spares the lock a sweep
                    # ...unless a person approved it: in that time anyone may have written.
                    reread=not yes,
                    stop=click.get_current_context().meta.get(STOP_EVENT),
                )
            except StoppedMidApply as stopped:  # what the changes in flight did, then the exit
                progress.close()
                _print_report(shown, cast(Report, stopped.report), fmt, events)
                raise
            progress.close()
        if run.cancelled:
            _cancelled()
        _print_report(run.plan, run.report, fmt, events, quiet=not shown.pending)
        _note_rate(account.stats(), events)
        _exit(run.report.exit_code)


def _print_report(
    plan: Plan, report: Report, fmt: Format, events: RunEvents, *, quiet: bool = False
) -> None:
    """The report of what ran (JSON: the one document, with the plan); nothing more in text
    when nothing was pending and nothing ran (`quiet`)."""
    events.plan = plan
    events.finished(report)
    if fmt is Format.JSON:
        _out(json_text({"plan": plan_json(plan), **report_json(report)}))
    elif not quiet or report.results:
        click.echo("")
        _out(render_report(report, fmt, color=_color()))


def _note_rate(stats: ClientStats, events: RunEvents) -> None:
    note = rate_note(stats)
    if note and not events.json:  # in JSON, the summary's `slowed_to` says it
        click.echo(note, err=True)  # stderr: stdout stays the plan or report (JSON included)


def _announce_replan(fresh: Plan, fmt: Format, events: RunEvents, *, asking: bool) -> None:
    """The plan under the lock is not the one shown (someone wrote to the account since):
    the plan that will run is shown whole, in the run's format (JSON: an event; the final
    document holds it)."""
    if events.json:
        events.replanned(fresh)
    if fmt is Format.JSON:  # the question, if any, is asked on stderr about the text plan
        if asking:
            text = render_plan(fresh, Format.TEXT, color=_color())
            click.echo(f"\n{REPLAN_NOTICE}\n\n{text}", err=True)
        return
    notice = REPLAN_NOTICE if fmt is Format.TEXT else f"**{REPLAN_NOTICE}**"
    _out(f"\n{notice}\n\n" + render_plan(fresh, fmt, color=_color()))


def _set_name(command: str, given: str | None, paths: tuple[str, ...]) -> str:
    """`--set-name`, else the Settings document of the manifests at PATH (for the commands that
    need only the set, not the whole plan: export, unlock)."""
    if given is not None:
        return given
    if not paths:
        raise ConfigError(f"{command} needs the set name: pass --set-name or the manifests' PATH")
    from reconciler.pipeline import RunOptions, load_desired

    return load_desired(paths, RunOptions()).settings.set_name


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm(*, again: bool = False) -> bool:
    """Ask before applying the plan just shown (True: go on); `again` for a plan that changed
    under the lock after the first answer."""
    if not stdin_is_terminal():
        raise ConfigError(
            "refusing to apply without confirmation: stdin is not a terminal; "
            "pass --yes to apply non-interactively (for example in CI or cron)"
        )
    question = "Apply this new plan instead?" if again else "Apply these changes?"
    try:
        return click.confirm(f"\n{question}", default=False, err=True)
    except click.Abort as abort:
        # click turns a signal at the prompt into Abort ("Aborted!", exit 1): it stops the run
        # as anywhere else (exit 130 for Ctrl-C); stdin closed (EOF) is a no.
        if isinstance(abort.__context__, KeyboardInterrupt):
            raise abort.__context__ from None
        return False


def _cancelled() -> NoReturn:
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
    connection: ConnectionOptions,
) -> None:
    """Write manifests for what the set owns (applying them to the same account is a no-op).

    Exit 0, 1 error.
    """
    from reconciler.export import export_account

    paths, connection = split_paths(connection, paths, required=False)
    set_name = _set_name("export", set_name, paths)
    with open_account(connection, _transport()) as account:
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
@log_format_option
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
    paths: tuple[str, ...],
    set_name: str | None,
    output: str,
    latest: int,
    log_format: LogFormat,
    connection: ConnectionOptions,
) -> None:
    """Show each managed stream: live, recording, and its latest recordings' processing state.

    Exit 0, 1 error.
    """
    from reconciler.pipeline import RunOptions, load_desired
    from reconciler.status import read_status, render_status

    with _reported("status", log_format) as events:
        paths, connection = split_paths(connection, paths)
        desired = load_desired(paths, RunOptions(set_name=set_name))
        with open_account(connection, _transport()) as account:
            events.stats = account.stats
            rows = read_status(desired, account.api, latest=latest)
        _out(render_status(rows, output))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="[PATH...]")
@connection_options
@click.option("--set-name", help="The set to unlock (default: the Settings document in PATH).")
@click.option("--yes", "-y", is_flag=True, help="Unlock without asking (needed off a terminal).")
def unlock(
    paths: tuple[str, ...], set_name: str | None, yes: bool, connection: ConnectionOptions
) -> None:
    """Remove the set's apply lock left by a run that died (like `terraform force-unlock`).

    Only when no apply of the set is running: a live holder would then write beside another run.
    Exit 0 removed (or there was none), 1 error.
    """
    from reconciler.lock.lease import break_lock, find_locks
    from reconciler.lock.record import format_time

    paths, connection = split_paths(connection, paths, required=False)
    set_name = _set_name("unlock", set_name, paths)
    with open_account(connection, _transport()) as account:
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


main.add_command(watch)
