"""`reconciler watch`: the long-running mode (docs/watch.md). Parses the options, opens the
account, wires signals and hands over to `reconciler.watch`; decides nothing itself."""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import replace
from typing import Any

import click

from reconciler.cli.options import account_options, run_options, split_paths
from reconciler.errors import ConfigError
from reconciler.lock.record import default_owner
from reconciler.redact import register_secret

ENV_TOKEN = "RECONCILER_WEBHOOK_TOKEN"
MIN_TOKEN = 16  # characters: the URL's only protection must not be guessable


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--listen {value!r}: use HOST:PORT, e.g. 127.0.0.1:8090 or 0.0.0.0:8090")
    return host.strip("[]") or "0.0.0.0", int(port)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True), metavar="PATH...")
@account_options
@click.option(
    "--listen",
    default="127.0.0.1:8090",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve the webhook, /healthz, /readyz and /metrics (port 0: any).",
)
@click.option(
    "--resync",
    type=click.FloatRange(1),
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
@click.option(
    "--lock-ttl",
    type=click.FloatRange(1),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Lifetime of the lease if this replica dies; a follower takes over within it.",
)
@click.option(
    "--lock-owner",
    envvar="RECONCILER_LOCK_OWNER",
    default="",
    metavar="TEXT",
    help="Who holds the lease, as others name it. Env: RECONCILER_LOCK_OWNER.",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between looks at the manifests' files.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines on stderr as text or as JSON objects.",
)
def watch(
    paths: tuple[str, ...],
    listen: str,
    resync: float,
    webhook_token: str | None,
    lock_ttl: float,
    lock_owner: str,
    poll: float,
    log_format: str,
    **kw: Any,
) -> None:
    """Keep the account matching the manifests, reacting to the platform's webhooks.

    Runs until SIGTERM or Ctrl-C (exit 0: the change in flight finished, the lease released).
    SIGHUP reloads the manifests. Exit 1 on a configuration error. See docs/watch.md.
    """
    try:
        from reconciler.watch.run import WatchSetup, run_watch
    except ImportError as error:
        raise ConfigError(
            f"reconciler watch needs the [watch] extra ({error.name} is missing): "
            "pip install 'reconciler[watch]'"
        ) from None
    from reconciler.cli.account import open_account

    token = (webhook_token or "").strip()
    if len(token) < MIN_TOKEN or not token.isprintable() or "/" in token:
        raise ConfigError(
            f"--webhook-token (or {ENV_TOKEN}): needs at least {MIN_TOKEN} printable characters "
            "without '/'; generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe())'"
        )
    register_secret(token)
    host, port = _listen(listen)
    paths = split_paths(kw, paths)
    _configure_logs(log_format)
    with open_account(kw, click.get_current_context().obj) as account:
        options = replace(run_options(kw), now=account.now)
        setup = WatchSetup(
            paths=paths, options=options, host=host, port=port, token=token, resync=resync,
            lock_ttl=lock_ttl, owner=lock_owner or default_owner(), poll=poll,
            workers=account.settings.concurrency,
        )  # fmt: skip
        run_watch(account.api, account.stats, setup, _install_signals)


def _install_signals(stop: Any, reload: Any) -> None:
    signal.signal(signal.SIGTERM, lambda *_: stop())
    signal.signal(signal.SIGINT, lambda *_: stop())
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: reload())


def _configure_logs(log_format: str) -> None:
    logger = logging.getLogger("reconciler")
    if "RECONCILER_LOG" not in os.environ:
        logger.setLevel(logging.INFO)  # a service logs each hint, reconcile and change
    if log_format == "json":
        from reconciler.watch.logfmt import JsonLines

        for handler in logger.handlers:
            handler.setFormatter(JsonLines())
