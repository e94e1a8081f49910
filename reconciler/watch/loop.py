"""The watch loop, on one thread: reload the manifests when they change, hold or wait for the
lease, run a full resync when due (at the start, on taking the lease, every `resync` seconds,
after an error, after a hint overflow or a slice that needs the whole account), and otherwise
reconcile one hinted slice at a time. Every decision is the planner's, the guards' or the
lock's; this module only chooses when and on what. Knows no HTTP."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from reconciler.api.protocol import StreamingAPI
from reconciler.apply.scheduler import apply_plan
from reconciler.errors import ReconcilerError
from reconciler.model.changes import ChangeResult, Outcome, Plan, Report
from reconciler.model.desired import DesiredState
from reconciler.model.live import LiveState
from reconciler.pipeline import (
    RunOptions,
    cleanup_write_rule,
    drop_grace_left,
    plan_for,
    read_account,
    write_time_rule,
)
from reconciler.render.lines import headline
from reconciler.watch.hints import Hint
from reconciler.watch.leader import Leadership
from reconciler.watch.manifests import ManifestSource
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.queue import HintQueue
from reconciler.watch.server import Readiness
from reconciler.watch.slice import plan_slice

log = logging.getLogger("reconciler.watch")

MIN_BACKOFF = 1.0
LEASE_FAILURE = "taking the lease"
DROP_GRACE_MARGIN = 1.0  # seconds after a drop's grace ends before looking again (clock steps)


@dataclass(frozen=True)
class WatchConfig:
    paths: Sequence[str]
    options: RunOptions = field(default_factory=RunOptions)
    resync: float = 300.0  # seconds between full resyncs
    poll: float = 2.0  # seconds between looks at the manifests' files
    workers: int = 8


class Watcher:
    def __init__(
        self,
        api: StreamingAPI,
        config: WatchConfig,
        leadership: Leadership,
        queue: HintQueue,
        metrics: WatchMetrics,
    ) -> None:
        self.api, self.config, self.leadership = api, config, leadership
        self.queue, self.metrics = queue, metrics
        self.source = ManifestSource(config.paths, config.options)
        self.stop = threading.Event()  # SIGTERM: finish the change in flight, then leave
        self.reload = threading.Event()  # SIGHUP: read the manifests now
        self.full_due = 0.0  # monotonic time of the next full resync
        self.backoff = 0.0  # after a failed full resync, the wait before the next one
        self.synced = False  # a full resync of the current manifests converged or only held
        self.degraded: str | None = None  # the last failure, until a full resync succeeds
        self._next_poll = 0.0
        self._was_leading = False
        self._refused = ""  # the last reason a change was not started

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.step()
        finally:
            self.leadership.release()
            self.metrics.leader.set(0)
            log.info("stopped")

    def step(self) -> None:
        desired = self._manifests()
        if desired is None:
            self.stop.wait(self.config.poll)
            return
        if not self._lead(desired):
            # The leader reconciles (its resync covers these); we take over with a full resync.
            self.metrics.followed.inc(self.queue.clear())
            self.stop.wait(min(self.config.poll, self.leadership.retry))
            return
        self.leadership.alive()
        now = time.monotonic()
        if self.queue.take_overflow():
            self._resync_soon("hints overflowed the queue")
        if now >= self.full_due:
            self.queue.clear()  # the full resync covers every waiting hint
            self.full(desired)
            return
        hint = self.queue.get(timeout=min(0.5, self.full_due - now))
        if hint is not None:
            self.slice(desired, hint)

    def _manifests(self) -> DesiredState | None:
        now = time.monotonic()
        forced = self.reload.is_set()
        if forced or now >= self._next_poll:
            self.reload.clear()
            self._next_poll = now + self.config.poll
            failures = self.source.failures
            loaded = self.source.poll(force=forced)
            if self.source.failures > failures:
                self.metrics.manifest_errors.inc()
            self.metrics.manifests_valid.set(0 if loaded.error else 1)
            if loaded.changed:
                self.synced = False
                self.full_due = 0.0  # the new manifests apply now, with prune
        return self.source.desired

    def _lead(self, desired: DesiredState) -> bool:
        try:
            leading = self.leadership.ensure(desired.settings.set_name)
        except ReconcilerError as error:
            self._failed(LEASE_FAILURE, error)  # counted as no reconcile
            # The lease may have been lost on the way (then released): say so, and a later
            # take starts with a full resync like any new leader.
            self._was_leading = self.leadership.leading
            self.metrics.leader.set(1 if self._was_leading else 0)
            return False
        if leading and not self._was_leading:
            self.full_due = 0.0  # a new leader trusts nothing it has not read
        if not leading and self.degraded is not None and self.degraded.startswith(LEASE_FAILURE):
            self.degraded = None  # the account answered: a follower that follows is healthy
        self._was_leading = leading
        self.metrics.leader.set(1 if leading else 0)
        return leading

    # -- reconciles --------------------------------------------------------------------------

    def full(self, desired: DesiredState) -> None:
        self.full_due = time.monotonic() + self.config.resync  # sooner if it fails
        api = self.leadership.watched(self.api)
        try:
            live = read_account(api)
            plan = plan_for(desired, live, api, self._options())
            self.metrics.held.set(len(plan.held))
            report = self._apply(api, plan, live, desired)
            self._look_again_after_drops(plan, live, api)
        except ReconcilerError as error:
            self._failed("full resync", error, scope="full")
            return
        if self._settled("full", "full resync", plan, report):
            self.synced, self.degraded, self.backoff = True, None, 0.0
            self.metrics.synced()

    def slice(self, desired: DesiredState, hint: Hint) -> None:
        api = self.leadership.watched(self.api)
        try:
            planned = plan_slice(desired, api, hint, self._options())
            if planned.needs_full is not None:
                log.info("hint %s: %s: full resync", hint, planned.needs_full,
                         extra=_event("reconcile", scope="slice", hint=str(hint),
                                      result="deferred", reads=planned.reads))  # fmt: skip
                self.metrics.reconciles.labels("slice", "deferred").inc()
                self._resync_soon(planned.needs_full)
                return
            report = self._apply(api, planned.plan, planned.live, desired)
            self._look_again_after_drops(planned.plan, planned.live, api)
        except ReconcilerError as error:
            self._failed(f"reconcile of {hint}", error, scope="slice")
            return
        self._settled("slice", f"hint {hint}", planned.plan, report, reads=planned.reads)

    def _look_again_after_drops(self, plan: Plan, live: LiveState, api: StreamingAPI) -> None:
        """Changes held while an encoder's drop is within the grace may go once it is over: a
        full resync then (no webhook comes for a stream that stays down)."""
        left = drop_grace_left(live, api, self._options()) if plan.held else None
        if left is not None:
            self.full_due = min(self.full_due, time.monotonic() + left + DROP_GRACE_MARGIN)

    def _settled(
        self, scope: str, what: str, plan: Plan, report: Report, reads: int | None = None
    ) -> bool:
        """Count and log a reconcile that ran; False (and a resync soon) if it did not converge."""
        failed = report.count(Outcome.FAILED)
        problem = report.stopped or (f"{failed} change(s) failed" if failed else "")
        if problem:
            self._failed(what, problem, scope=scope)
            return False
        result = "changed" if plan.pending else "converged"
        self.metrics.reconciles.labels(scope, result).inc()
        counts = {str(o): report.count(o) for o in Outcome if report.count(o)}
        fields = {"scope": scope, "result": result, "held": len(plan.held), **counts}
        if reads is not None:
            fields["reads"] = reads
        # "converged" with changes held back would read as done: the log says what is left.
        said = "held back" if result == "converged" and plan.held else result
        log.info("%s: %s (%s)", what, said, _summary(plan, report),
                 extra=_event("reconcile", **fields))  # fmt: skip
        return True

    def _apply(
        self, api: StreamingAPI, plan: Plan, live: LiveState, desired: DesiredState
    ) -> Report:
        for change in plan.held:
            log.warning("held: %s: %s", headline(change), change.held)
        if not plan.pending:
            return Report(results=())
        self._refused = ""
        refusal = self._write_refusal()
        if refusal is not None:
            raise _NotLeading(refusal)
        report = apply_plan(
            plan,
            api,
            live,
            workers=self.config.workers,
            on_result=self._on_result,
            set_name=desired.settings.set_name,
            guard=self._write_refusal,
            # The re-checks at the write, as `apply` has them (with the drop grace).
            live_hold=write_time_rule(desired, api, self._options()),
            in_use=cleanup_write_rule(desired, api, self._options()),
        )
        return replace(report, stopped=self._refused) if self._refused else report

    def _write_refusal(self) -> str | None:
        """Asked before each change starts: a stop (SIGTERM) lets the changes in flight finish
        and starts no other; a lost lease starts none."""
        if self.stop.is_set():
            self._refused = "watch is stopping"
            return self._refused
        refusal = self.leadership.write_refusal()
        if refusal is not None:
            self._refused = refusal
        return refusal

    def _on_result(self, result: ChangeResult) -> None:
        self.metrics.changes.labels(str(result.outcome)).inc()
        level = logging.WARNING if result.outcome is Outcome.FAILED else logging.INFO
        detail = f": {result.detail}" if result.detail else ""
        fields = {"outcome": str(result.outcome), "detail": result.detail}
        extra = {"event": f"change.{result.outcome}", "change": result.change, "fields": fields}
        log.log(level, "change %s %s%s", result.outcome, headline(result.change), detail,
                extra=extra)  # fmt: skip

    # -- timing ------------------------------------------------------------------------------

    def _options(self) -> RunOptions:
        return self.config.options

    def _resync_soon(self, why: str) -> None:
        log.debug("full resync requested: %s", why)
        self.full_due = min(self.full_due, time.monotonic() + self.backoff)

    def _failed(self, what: str, error: ReconcilerError | str, *, scope: str = "") -> None:
        """After any error: a full resync, backing off while they keep failing."""
        if scope:
            self.metrics.reconciles.labels(scope, "failed").inc()
        if self.stop.is_set():
            log.info("%s: %s", what, error)  # stopping: the changes not started are not an error
            return
        self.degraded = f"{what}: {error}"
        log.error("%s failed: %s", what, error, extra=_event("error", scope=scope or "lease"))
        self.backoff = min(max(self.backoff * 2, MIN_BACKOFF), self.config.resync)
        self.full_due = min(self.full_due, time.monotonic() + self.backoff)

    # -- health ------------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        leading = self.leadership.leading
        detail: dict[str, object] = {
            "leader": leading,
            "synced": self.synced,
            "manifests": "ok" if self.source.error is None else self.source.error,
        }
        if not leading and self.leadership.holder:
            detail["following"] = self.leadership.holder
        if self.degraded:
            detail["degraded"] = self.degraded
        if self.metrics.last_sync is not None:
            detail["seconds_since_sync"] = round(time.monotonic() - self.metrics.last_sync, 1)
        loaded = self.source.desired is not None
        # A follower is ready once it knows who leads (it is waiting for the lease).
        ready = loaded and (self.synced if leading else self.leadership.holder is not None)
        return Readiness(ready=ready, detail=detail)


class _NotLeading(ReconcilerError):
    """A write was about to start without the lease (it was lost since the last look)."""


def _event(name: str, **fields: object) -> dict[str, object]:
    """`extra=` of a log record: its event and fields in --log-format json."""
    return {"event": f"watch.{name}", "fields": fields}


def _summary(plan: Plan, report: Report) -> str:
    counts = [f"{report.count(o)} {o}" for o in Outcome if report.count(o)]
    if not report.results and plan.held:
        counts.append(f"{len(plan.held)} held")
    return ", ".join(counts) or "no changes"
