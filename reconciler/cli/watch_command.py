"""`reconciler watch`: the long-running mode (docs/watch.md). Parses the options, opens the
account, wires signals and logs, and hands over to `reconciler.watch`; decides nothing itself."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

import click

from reconciler.cli.account import open_account
from reconciler.cli.logs import ENV_LOG, LOGGER, LogFormat, configure_logging
from reconciler.cli.options import (
    AccountOptions,
    FiniteFloatRange,
    account_options,
    lock_options,
    log_format_option,
    split_paths,
)
from reconciler.errors import ConfigError
from reconciler.lock.lease import check_ttl
from reconciler.lock.record import default_owner
from reconciler.redact import register_secret
from reconciler.safety.dropgrace import WATCH_DEFAULT as WATCH_DROP_GRACE

ENV_TOKEN = "RECONCILER_WEBHOOK_TOKEN"
MIN_TOKEN = 16  # characters: the URL's only protection must not be guessable


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="PATH...")
@account_options
@log_format_option
@click.option(
    "--listen",
    default="127.0.0.1:8090",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve the webhook, /healthz, /readyz and /metrics (port 0: any).",
)
@click.option(
    "--resync",
    type=FiniteFloatRange(1),
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between full resyncs (sweeps, plan, apply).",
)
@click.option(
    "--webhook-token",
    envvar=ENV_TOKEN,
    metavar="TOKEN",
    help=f"The secret in the webhook URL /webhook/TOKEN. Env: {ENV_TOKEN}.",
)
@lock_options(
    ttl_help="Lifetime of the lease if this replica dies; a follower takes over within it.",
    owner_help="Who holds the lease, as the others name it.",
)
@click.option(
    "--poll",
    type=FiniteFloatRange(0.1),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between looks at the manifests' files.",
)
def watch(
    paths: tuple[str, ...],
    listen: str,
    resync: float,
    webhook_token: str | None,
    lock_ttl: float,
    lock_owner: str,
    poll: float,
    log_format: LogFormat,
    options: AccountOptions,
) -> None:
    """Keep the account matching the manifests, reacting to the platform's webhooks.

    Runs until SIGTERM or Ctrl-C: exit 0 once the change in flight finished and the lease is
    released. SIGHUP reloads the manifests. Exit 1 on a configuration error. See docs/watch.md.
    """
    try:
        from reconciler.watch.run import WatchSetup, run_watch
    except ImportError as error:
        raise ConfigError(
            f"reconciler watch needs the [watch] extra ({error.name} is missing): "
            "pip install 'reconciler[watch]'"
        ) from None
    check_ttl(lock_ttl)  # click's range lets NaN through
    token = _token(webhook_token)
    host, port = _listen(listen)
    paths, connection = split_paths(options.connection, paths)
    _configure_logs(log_format)
    with open_account(connection, click.get_current_context().obj) as account:
        setup = WatchSetup(
            paths=paths, options=options.run_options(WATCH_DROP_GRACE), host=host,
            port=port, token=token, resync=resync, lock_ttl=lock_ttl,
            owner=lock_owner or default_owner(), poll=poll, workers=account.settings.concurrency,
        )  # fmt: skip
        run_watch(account.api, account.stats, setup, _install_signals)


def _token(given: str | None) -> str:
    token = (given or "").strip()
    if len(token) < MIN_TOKEN or not token.isprintable() or "/" in token or " " in token:
        raise ConfigError(
            f"--webhook-token (or {ENV_TOKEN}): needs at least {MIN_TOKEN} printable characters, "
            "no '/' nor space; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe())'"
        )
    register_secret(token)  # masked in every output from now on
    return token


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {value!r}: use HOST:PORT, e.g. 127.0.0.1:8090 or 0.0.0.0:8090")
    return host.strip("[]") or "0.0.0.0", int(port)


def _install_signals(stop: Callable[[], None], reload: Callable[[], None]) -> None:
    """SIGTERM and Ctrl-C stop the loop after the change in flight (exit 0); SIGHUP reloads.
    They replace the group's stop handlers for as long as the command runs."""
    signal.signal(signal.SIGTERM, lambda *_: stop())
    signal.signal(signal.SIGINT, lambda *_: stop())
    signal.signal(signal.SIGHUP, lambda *_: reload())


def _configure_logs(log_format: LogFormat) -> None:
    configure_logging(log_format)
    if ENV_LOG not in os.environ:  # a service logs each hint, reconcile and change
        logging.getLogger(LOGGER).setLevel(logging.INFO)
