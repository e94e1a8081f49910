"""Wires one watch process: the queue, the metrics, the HTTP endpoint, the lease and the loop;
runs until stopped, then releases the lease and closes the endpoint. Knows no click."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reconciler.api.protocol import StreamingAPI
from reconciler.api.transport import ClientStats
from reconciler.pipeline import RunOptions
from reconciler.watch.leader import Leadership
from reconciler.watch.loop import WatchConfig, Watcher
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.queue import HintQueue
from reconciler.watch.server import Endpoint, serve

log = logging.getLogger("reconciler.watch")


@dataclass(frozen=True)
class WatchSetup:
    paths: Sequence[str]
    options: RunOptions
    host: str
    port: int
    token: str
    resync: float
    lock_ttl: float
    owner: str
    poll: float = 2.0
    workers: int = 8
    queue_capacity: int = 1024


def run_watch(
    api: StreamingAPI,
    stats: Callable[[], ClientStats],
    setup: WatchSetup,
    on_signals: Callable[[Callable[[], None], Callable[[], None]], None],
) -> None:
    """Serve and reconcile until `stop` is called (`on_signals` receives stop and reload)."""
    metrics = WatchMetrics(stats)
    queue = HintQueue(setup.queue_capacity)
    config = WatchConfig(setup.paths, setup.options, setup.resync, setup.poll, setup.workers)
    watcher = Watcher(api, config, Leadership(api, setup.owner, setup.lock_ttl), queue, metrics)
    endpoint = Endpoint(setup.token, queue, metrics, watcher.readiness)
    server = serve(setup.host, setup.port, endpoint)
    host, port = server.server_address[:2]
    # The one line a supervisor (or a test) reads to learn the port; the token is not in it.
    log.warning("watch serving on http://%s:%d (webhook at /webhook/<token>)", host, port)
    on_signals(watcher.stop.set, watcher.reload.set)
    try:
        watcher.run()
    finally:
        server.shutdown()
        server.server_close()
