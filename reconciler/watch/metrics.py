"""What watch exposes on /metrics, in the Prometheus text format (prometheus-client renders it:
escaping, types and help lines are its job). Counters are bumped by the loop and the endpoint;
the API client's own counts are read from its ClientStats at each scrape. Knows no HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from reconciler.api.transport import ClientStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class WatchMetrics:
    def __init__(self, stats: Callable[[], ClientStats]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconciles = Counter(
            "reconciler_watch_reconciles",
            "Reconciles run, by scope (slice: one hinted object; full: the whole set) and result",
            ["scope", "result"],
            registry=r,
        )
        self.changes = Counter(
            "reconciler_watch_changes", "Changes applied, by outcome", ["outcome"], registry=r
        )
        self.held = Gauge(
            "reconciler_watch_held_changes",
            "Changes held back by a safety rule in the last full plan",
            registry=r,
        )
        self.hints = Counter(
            "reconciler_watch_hints_received",
            "Webhooks accepted as hints, by type (ignored: a type the planner does not act on)",
            ["type"],
            registry=r,
        )
        self.coalesced = Counter(
            "reconciler_watch_hints_coalesced",
            "Hints for an object already waiting: covered by its one reconcile",
            registry=r,
        )
        self.overflowed = Counter(
            "reconciler_watch_hints_overflowed",
            "Hints turned away by the full queue (a full resync covers them)",
            registry=r,
        )
        self.followed = Counter(
            "reconciler_watch_hints_not_leading",
            "Hints that reached a follower: not acted on (the leader's resync covers them)",
            registry=r,
        )
        self.rejected = Counter(
            "reconciler_watch_webhooks_rejected",
            "Webhook requests refused, by reason",
            ["reason"],
            registry=r,
        )
        self.manifest_errors = Counter(
            "reconciler_watch_manifest_errors",
            "Checkouts of the manifests that failed validation (the last good state was kept)",
            registry=r,
        )
        self.manifests_valid = Gauge(
            "reconciler_watch_manifests_valid",
            "1 when the manifests on disk are the ones in force, 0 when a broken checkout waits",
            registry=r,
        )
        self.leader = Gauge(
            "reconciler_watch_leader", "1 when this replica holds the lease", registry=r
        )
        self.queue_depth = Gauge(
            "reconciler_watch_queue_depth", "Hints waiting for a reconcile", registry=r
        )
        self.last_sync: float | None = None  # monotonic time of the last good full sync
        r.register(_ClientCollector(stats, self))

    def synced(self) -> None:
        self.last_sync = time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ClientCollector(Collector):
    """The API client's counts and the sync age, read at scrape time."""

    def __init__(self, stats: Callable[[], ClientStats], metrics: WatchMetrics) -> None:
        self.stats = stats
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.stats()
        answers = CounterMetricFamily(
            "reconciler_api_requests",
            "API request attempts, by method and HTTP status ('error': no answer)",
            labels=["method", "status"],
        )
        for key, count in stats.answers.items():
            method, status = key.split(" ", 1)
            answers.add_metric([method, status], count)
        yield answers
        yield CounterMetricFamily(
            "reconciler_api_retries", "API requests retried", value=stats.retries
        )
        yield CounterMetricFamily(
            "reconciler_api_rate_limited",
            "API answers 429 (rate limited)",
            value=stats.rate_limited,
        )
        yield CounterMetricFamily(
            "reconciler_api_rate_limit_wait_seconds",
            "Seconds spent waiting for the client's rate limiter or a Retry-After",
            value=stats.waited,
        )
        last = self.metrics.last_sync
        age = GaugeMetricFamily(
            "reconciler_watch_seconds_since_last_sync",
            "Seconds since the last full sync that converged or only held changes (NaN: never)",
        )
        age.add_metric([], float("nan") if last is None else time.monotonic() - last)
        yield age
