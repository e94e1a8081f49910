"""The reconcile flow shared by `plan` and `apply`: load the manifests (no API call when they are
invalid) -> read the account by list sweeps -> compute the plan -> add cleanup -> apply the guards;
and for `apply`, the locked re-plan and the execution.

Glue only: every decision lives in the modules it calls. Knows nothing of click or output formats.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from reconciler.api.platformtime import local_now, platform_now
from reconciler.api.protocol import Json, StreamingAPI
from reconciler.apply.livecheck import LiveHold
from reconciler.apply.scheduler import apply_plan
from reconciler.errors import BadResponse, ConfigError, LockLost, NotFoundError
from reconciler.lock.lease import (
    DEFAULT_TTL,
    Lock,
    acquire_lock,
    check_ttl,
    clear_expired,
)
from reconciler.lock.record import default_owner
from reconciler.manifest import load_manifests
from reconciler.model.changes import ChangeResult, Outcome, Plan, Report
from reconciler.model.desired import DesiredState
from reconciler.model.live import LiveBroadcast, LiveState, read_live, reparse_streams
from reconciler.model.ownership import recorded_but_not_listed
from reconciler.plan.compute import PlanOptions, compute_plan
from reconciler.redact import register_secrets
from reconciler.safety.cleanup import cleanup_recheck, collect_cleanup, with_cleanup
from reconciler.safety.dropgrace import grace_left, with_drop_grace
from reconciler.safety.guards import GuardOptions, apply_guards, live_rule


@dataclass(frozen=True)
class RunOptions:
    """What the command line decides; None means "as the Settings document says"."""

    set_name: str | None = None
    prune: bool | None = None  # --no-prune -> False
    allow_live_changes: bool = False
    allow_empty_prune: bool | None = None
    max_deletions: int | None = None
    max_deletion_percent: float | None = None
    environ: Mapping[str, str] | None = None  # for ${VAR} in manifests; None = os.environ
    # This machine's clock: idle ages are judged by the platform's (its Date header); this one
    # only when the platform sent none (with a warning).
    now: Callable[[], datetime] = field(default=local_now)
    # Seconds a stream whose encoder dropped still counts as on air (safety.dropgrace).
    drop_grace: float = 0.0


DEFAULT_LOCK_TTL = DEFAULT_TTL


@dataclass(frozen=True)
class LockOptions:
    """Raises ConfigError for a ttl out of [MIN_TTL, MAX_TTL] or a wait that is not a number."""

    owner: str = ""  # "" = the lock module's default (user@host, pid)
    ttl: float = DEFAULT_LOCK_TTL  # seconds; the holder refreshes it while it runs
    wait: float = 0  # seconds to wait for another run's lock before giving up

    def __post_init__(self) -> None:
        check_ttl(self.ttl)
        if not (math.isfinite(self.wait) and self.wait >= 0):
            raise ConfigError(
                f"lock wait {self.wait!r} (--lock-wait): use a number of seconds, 0 or more"
            )


@dataclass(frozen=True)
class ApplyRun:
    """What `apply` did: the plan it executed (fresh under the lock) and the report."""

    plan: Plan
    report: Report
    replanned: bool  # the plan under the lock differs from the one shown before
    cancelled: bool = False  # on_start declined the plan under the lock: nothing was applied


def load_desired(paths: Sequence[str | Path], options: RunOptions = RunOptions()) -> DesiredState:
    """Raises ManifestError listing every problem; sends nothing anywhere."""
    return load_manifests(list(paths), set_name=options.set_name, environ=options.environ)


MAX_MISSING_CONFIRMED = 25  # GETs one read may spend on recorded ids its sweep did not return


def read_account(api: StreamingAPI, set_name: str | None = None) -> LiveState:
    """One sweep per kind; with `set_name`, also proven complete for what that set records
    (`confirm_complete`)."""
    live = _masked(read_live(api))
    if set_name is not None:
        confirm_complete(api, live, set_name)
    return live


def confirm_complete(api: StreamingAPI, live: LiveState, set_name: str) -> None:
    """Raise BadResponse, before anything is planned, when the broadcast sweep missed a broadcast
    our markers record and that still exists (a page that answered `[]` or short where objects
    exist: planning on it would drop marker entries and create duplicates). Each missing id is
    confirmed with one GET: 404 means deleted by hand (the markers get repaired). More than
    MAX_MISSING_CONFIRMED missing: not confirmed, the read is refused as it stands."""
    missing = recorded_but_not_listed(live, set_name)
    if not missing:
        return
    if len(missing) > MAX_MISSING_CONFIRMED:
        raise BadResponse(
            f"listing broadcasts: {len(missing)} broadcasts that the markers of set "
            f"'{set_name}' record are not in the listing (ids {_ids(missing)}); more than "
            f"{MAX_MISSING_CONFIRMED} are not looked up one by one: the listing is taken as "
            "incomplete and not used, nothing was changed; retry later"
        )
    for bid in missing:
        try:
            api.get_broadcast(bid)
        except NotFoundError:
            continue  # deleted by hand: its entry is repaired as usual
        raise BadResponse(
            f"listing broadcasts: broadcast {bid}, recorded in the markers of set '{set_name}', "
            f"exists (GET /streaming/broadcasts/{bid}) but the listing did not return it: the "
            "listing is incomplete, so it is not used and nothing was changed; retry later"
        )


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _masked(live: LiveState) -> LiveState:
    # Stream keys read from the account are masked in every output from now on.
    register_secrets(s.get("token") for s in live.streams)
    register_secrets(s.get("srt_passphrase") for s in live.streams)
    return live


def plan_for(
    desired: DesiredState, live: LiveState, api: StreamingAPI, options: RunOptions
) -> Plan:
    plan = compute_plan(desired, live, PlanOptions(prune=options.prune))
    if desired.cleanups:
        now = platform_now(api, options.now)
        plan = with_cleanup(plan, collect_cleanup(desired, live, api, now=now))
    guards = GuardOptions(
        allow_live_changes=options.allow_live_changes,
        allow_empty_prune=options.allow_empty_prune,
        max_deletions=options.max_deletions,
        max_deletion_percent=options.max_deletion_percent,
    )
    if options.drop_grace > 0:  # the planner sees the stream down, the guards "still on air"
        live = with_drop_grace(live, platform_now(api, options.now), options.drop_grace)
    return apply_guards(plan, desired, live, guards)


def drop_grace_left(live: LiveState, api: StreamingAPI, options: RunOptions) -> float | None:
    """Seconds until the first stream of `live` whose encoder dropped leaves the drop grace
    (then what it held may go: watch looks again then), or None."""
    if options.drop_grace <= 0:
        return None
    graced = with_drop_grace(live, platform_now(api, options.now), options.drop_grace)
    return grace_left(graced)


def write_time_rule(desired: DesiredState, api: StreamingAPI, options: RunOptions) -> LiveHold:
    """The live-safety rule apply re-checks just before each write, with the run's drop grace
    judged by the platform's clock."""
    return live_rule(desired, options.drop_grace, lambda: platform_now(api, options.now))


def cleanup_write_rule(desired: DesiredState, api: StreamingAPI, options: RunOptions) -> LiveHold:
    """The Cleanup's selection as apply judges it again just before each deletion: the stream
    still idle for longer than its policy's `idle_for` by the platform's clock (the clock the
    plan judged it by), and no broadcast that is not finished using it."""
    return cleanup_recheck(desired, lambda: platform_now(api, options.now))


def plan_against(
    desired: DesiredState, api: StreamingAPI, options: RunOptions = RunOptions()
) -> tuple[LiveState, Plan]:
    api.expect_counts(streams=len(desired.streams), broadcasts=len(desired.broadcasts))
    live = read_account(api, desired.settings.set_name)
    return live, plan_for(desired, live, api, options)


def build_plan(
    paths: Sequence[str | Path], api: StreamingAPI, options: RunOptions = RunOptions()
) -> tuple[DesiredState, LiveState, Plan]:
    """Used by `plan` and by `apply` before the lock; never writes."""
    desired = load_desired(paths, options)
    live, plan = plan_against(desired, api, options)
    return desired, live, plan


def held_only_report(plan: Plan) -> Report:
    """The report of a plan with nothing to run: each held change reported HELD."""
    return Report(
        results=tuple(ChangeResult(c, Outcome.HELD, detail=c.held or "") for c in plan.held)
    )


def apply_desired(
    desired: DesiredState,
    api: StreamingAPI,
    shown: Plan,
    options: RunOptions = RunOptions(),
    *,
    lock: LockOptions = LockOptions(),
    workers: int = 8,
    # The plan made under the lock and whether it differs from `shown`; False: apply nothing.
    on_start: Callable[[Plan, bool], bool] | None = None,
    on_result: Callable[[ChangeResult], None] | None = None,
    live: LiveState | None = None,
    stop: threading.Event | None = None,
    reread: bool = False,
) -> ApplyRun:
    """Take the set's lock, read and plan again (another run may have changed the account since
    `shown` was computed), apply, release. A plan with nothing pending takes no lock at all.

    No change starts once the lock is lost (removed, or expired: the heartbeat stops refreshing
    it when the run's calls stop answering) or once `stop` is set (a signal): the rest are
    reported SKIPPED and the report says why it stopped (exit 1).

    `live` is the read `shown` was computed from (None: the lock sweeps streams itself).
    Its streams save the lock's first sweep. Under the lock, the plan is made again on `live`
    itself when the lock proves no apply of the set wrote since it was read
    (`Lock.unchanged_since_read`: the lock's confirmation read only the listing's end);
    otherwise on the streams of the sweep that confirmed the lock (`Lock.streams`, complete and
    taken after the lock was ours) and the broadcasts swept again; always so with `reread`
    (a person took time to approve `shown`: whatever was written meanwhile, by anyone, is in
    the plan that runs, and differs from `shown` if it matters). Writes by people are not
    what the second read guards against (they can come a second later): each disruptive write
    re-reads its stream right before it is sent, and a create looks its kind up first.
    """
    if not shown.pending:
        if live is not None:  # a lock left by a run that died goes now, not at the next change
            clear_expired(api, desired.settings.set_name, [s.raw for s in live.streams])
        return ApplyRun(plan=shown, report=held_only_report(shown), replanned=False)
    with acquire_lock(
        api,
        desired.settings.set_name,
        owner=lock.owner or default_owner(),
        ttl=lock.ttl,
        wait=lock.wait,
        streams=[s.raw for s in live.streams] if live is not None else None,
    ) as held:
        api = held.watching(api)  # its answers are the progress that keeps the lock refreshed
        if live is not None and held.unchanged_since_read and not reread:
            fresh = live  # read, masked and confirmed complete before the lock
        else:
            # The lock's listing is the plan's with its end brought up to date when no apply
            # wrote since: a person's edits in between need a sweep of their own.
            listing = api.list_streams() if held.unchanged_since_read else held.streams
            fresh = _read_under(listing, api, live, desired.settings.set_name)
        plan = plan_for(desired, fresh, api, options)
        replanned = not same_work(plan, shown)
        if on_start is not None:  # also when nothing is left: why nothing of `shown` runs
            with held.asking():  # on_start may ask a person to confirm a plan that changed
                if not on_start(plan, replanned):
                    return ApplyRun(plan, Report(results=()), replanned, cancelled=True)
        if not plan.pending:
            return ApplyRun(plan=plan, report=held_only_report(plan), replanned=replanned)
        guard = _WriteGuard(held, stop)
        report = apply_plan(
            plan,
            api,
            fresh,
            workers=workers,
            on_result=on_result,
            set_name=desired.settings.set_name,
            live_hold=write_time_rule(desired, api, options),
            guard=guard,
            in_use=cleanup_write_rule(desired, api, options),
        )
        if guard.refused:
            report = replace(report, stopped=guard.refused)
    if held.removed and not report.stopped:  # learnt at the release, on the way out
        report = replace(report, lock_removed=True)
    return ApplyRun(plan=plan, report=report, replanned=replanned)


def _read_under(
    listing: Sequence[Json], api: StreamingAPI, live: LiveState | None, set_name: str
) -> LiveState:
    """The account read again under the lock: the streams of `listing` (taken once the lock was
    ours), the broadcasts swept anew."""
    streams = reparse_streams(listing, live.streams if live is not None else ())
    broadcasts = tuple(map(LiveBroadcast.parse, api.list_broadcasts()))
    fresh = _masked(LiveState(streams=streams, broadcasts=broadcasts))
    confirm_complete(api, fresh, set_name)
    return fresh


class _WriteGuard:
    """Asked right before each change starts: why it must not (the lock was lost, the run was
    stopped), or None. Remembers the first refusal for the report."""

    def __init__(self, lock: Lock, stop: threading.Event | None) -> None:
        self.lock = lock
        self.stop = stop
        self.refused = ""

    def __call__(self) -> str | None:
        reason = None
        if self.stop is not None and self.stop.is_set():
            reason = "the run was interrupted"
        else:
            try:
                self.lock.check()
            except LockLost as lost:
                reason = f"the apply lock was lost: {lost}"
        if reason is not None and not self.refused:
            self.refused = reason
        return reason


def same_work(plan: Plan, other: Plan) -> bool:
    """Whether two plans would do the same: the same changes on the same objects, with the same
    diffs, streams and holds. What was approved is the plan shown: any of these differing under
    the lock is a different plan (a delete it did not show, a field it did not change)."""
    return _work(plan) == _work(other)


def _work(plan: Plan) -> dict[str, tuple[object, ...]]:
    return {c.id: (c.target_id, c.held, c.diffs, c.stream_refs) for c in plan.changes}


__all__ = [
    "ApplyRun",
    "LockOptions",
    "RunOptions",
    "apply_desired",
    "build_plan",
    "cleanup_write_rule",
    "confirm_complete",
    "drop_grace_left",
    "held_only_report",
    "load_desired",
    "plan_against",
    "plan_for",
    "read_account",
    "same_work",
    "write_time_rule",
]
