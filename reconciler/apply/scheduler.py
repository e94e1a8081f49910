"""Executes a `Plan` through the `StreamingAPI`: stages in lifecycle order (invariant 6), the
independent changes of a stage in parallel on one bounded pool, exactly one `ChangeResult` per
change, broadcast ownership recorded in our stream markers (one write per stream per stage,
`stagemarks`), no duplicate creates (invariant 8): a stage looks its planned creates up before
its first POST of a kind, and its lost creates after each round (`lookup`), and live-safety
re-checked just before each disruptive write (`livecheck`).

Knows nothing of manifests, guards or output formats.
"""

from __future__ import annotations

import logging
import queue
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial

from reconciler.api.protocol import StreamingAPI
from reconciler.apply.livecheck import Held, LiveHold, LiveRecheck, Reads
from reconciler.apply.lookup import (
    CREATED_WITHOUT_BODY,
    FOUND_AFTER_AMBIGUOUS,
    FOUND_BEFORE_CREATING,
    MAX_CREATE_ATTEMPTS,
    Finder,
    Found,
    Sought,
    StageLookup,
    lost_create,
)
from reconciler.apply.markers import Json, StreamBook, infer_set_name
from reconciler.apply.stagemarks import StageMarks
from reconciler.apply.workers import Workers
from reconciler.errors import AmbiguousCreate, ReconcilerError, StoppedMidApply
from reconciler.model.changes import Action, Change, ChangeResult, Outcome, Plan, Report, Resource
from reconciler.model.live import LiveState
from reconciler.model.ownership import ownership_of
from reconciler.redact import redact_text

log = logging.getLogger("reconciler.apply")

__all__ = ["FOUND_AFTER_AMBIGUOUS", "FOUND_BEFORE_CREATING", "MAX_CREATE_ATTEMPTS", "apply_plan"]


class _Unresolved(ReconcilerError):
    """A change needs an id that this run does not have (its create did not happen)."""


def apply_plan(
    plan: Plan,
    api: StreamingAPI,
    live: LiveState,
    *,
    workers: int = 8,
    on_result: Callable[[ChangeResult], None] | None = None,
    set_name: str | None = None,
    live_hold: LiveHold | None = None,
    guard: Callable[[], str | None] | None = None,
    in_use: LiveHold | None = None,
) -> Report:
    """Run every change once; a failure stops only the changes that depend on it.

    `set_name` scopes which streams are ours; by default it is read from the markers in the plan.
    `on_result` is called on the calling thread, once per change, as results come in.
    `live_hold`: a change it calls disruptive (were its streams on air) is re-checked by one GET
    of each of its streams just before the write, and HELD if one is on air now, unless the
    change is `live_allowed`. `in_use`: a change it would forbid were a broadcast using its
    streams (a Cleanup deletion) is re-checked the same way against the broadcasts, swept once
    per stage, and HELD if one uses a stream now (whatever `live_allowed` says).
    `guard` is asked right before each change starts writing: a reason (the lock was lost, the
    run was interrupted) reports the change SKIPPED with it instead; the stage's own marker
    writes stop too.
    """
    run = _Run(plan, api, live, set_name or infer_set_name(plan, live), guard)
    run.recheck = LiveRecheck(api, live, live_hold, in_use)
    results: dict[int, ChangeResult] = {}

    def finish(index: int, result: ChangeResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    by_stage: dict[int, list[int]] = defaultdict(list)
    for index, change in enumerate(plan.changes):
        by_stage[change.stage].append(index)

    def fail(index: int, why: str) -> None:
        finish(index, replace(run.failed(index, why), object_id=results[index].object_id))

    with Workers(workers, "apply") as pool:
        marks = run.marks = StageMarks(plan, run.book, pool, workers, guard)
        for stage in sorted(by_stage):
            marks.begin(stage, by_stage[stage])
            _Stage(run, pool, results, finish).run_all(by_stage[stage], marks)
            if run.interrupted is not None:
                break
            marks.after_stage(stage, results, fail)
        else:
            marks.after_stage(None, results, fail)
    if run.interrupted is not None:
        for index in range(len(plan.changes)):
            if index not in results:
                finish(index, run.skipped(index, "the run was interrupted"))
        done = tuple(results[i] for i in range(len(plan.changes)))
        raise StoppedMidApply(run.interrupted, Report(done, stopped="the run was interrupted"))
    return Report(results=tuple(results[i] for i in range(len(plan.changes))))


UNKNOWN_AFTER_SIGNAL = (
    "the outcome is unknown: the run was interrupted before it was known; the next run finds "
    "what was written"
)


class _Stage:
    """Runs one stage: a change is submitted once its dependencies have results, and results
    come back through one queue, so scheduling costs O(1) per change whatever the plan size.
    Planned creates are looked up when the first of a kind starts; lost creates wait until the
    stage is otherwise idle, then are looked up in one round."""

    def __init__(
        self,
        run: _Run,
        pool: Workers,
        results: Mapping[int, ChangeResult],
        finish: Callable[[int, ChangeResult], None],
    ) -> None:
        self.run = run
        self.pool = pool
        self.results = results
        self.finish = finish
        self.done: queue.SimpleQueue[tuple[int, ChangeResult | Sought]] = queue.SimpleQueue()
        self.in_flight: set[int] = set()  # submitted, no outcome back yet
        self.blocked: dict[int, int] = {}  # index -> its dependencies in this stage still open
        self.dependents: dict[int, list[int]] = defaultdict(list)
        self.lookup: StageLookup  # set by run_all, before any change starts

    def run_all(self, indexes: list[int], marks: StageMarks) -> None:
        self.lookup = StageLookup(self.run.finder, self.run.plan, indexes, self.run.create_body)
        changes = self.run.plan.changes
        for index in indexes:  # held first, so that their dependents see them at once
            held = changes[index].held
            if held is not None:
                self.finish(index, ChangeResult(changes[index], Outcome.HELD, detail=held))
        creating = self.lookup.to_send(Resource.BROADCAST)
        for index, why in marks.write_intents(creating).items():
            self.finish(index, self.run.failed(index, why))
        members = set(indexes)
        for index in indexes:
            if index in self.results:
                continue
            open_deps = [d for d in self.run.deps[index] if d in members and d not in self.results]
            if open_deps:
                self.blocked[index] = len(open_deps)
                for dep in open_deps:
                    self.dependents[dep].append(index)
            elif (skipped := self._start(index)) is not None:
                self._settle(index, skipped)
        lost: dict[int, Sought] = {}
        try:
            while True:
                while self.in_flight:
                    index, outcome = self.done.get()
                    self.in_flight.discard(index)
                    if isinstance(outcome, Sought):
                        lost[index] = outcome
                    else:
                        self._settle(index, outcome)
                if not lost:
                    break
                self._look_up(lost)  # only now: every lost create of this round is known
                lost = {}
        except KeyboardInterrupt as interrupt:  # wherever the signal finds this thread
            self._wind_down(interrupt, lost)
            return
        # Never started: a dependency on a later stage, or a cycle.
        for index in indexes:
            if index not in self.results:
                self.finish(index, self.run.skipped(index, "depends on a change that runs later"))

    def _start(self, index: int) -> ChangeResult | None:
        """Submit the change if it can run; return its result if it is skipped. A dependency on
        a later stage leaves it waiting: it is skipped when the stage ends."""
        verdict = self.run.gate(index, self.results)
        if verdict is not None:
            return verdict if isinstance(verdict, ChangeResult) else None
        before = None  # a create's object in the account (one sweep on the stage's first)
        if self.run.plan.changes[index].action is Action.CREATE:
            before = self.lookup.before_creating(index)
        if isinstance(before, str):
            return self.run.failed(index, before)
        work = self.run.execute if before is None else partial(self.run.found, found=before)
        change = self.run.plan.changes[index]
        if log.isEnabledFor(logging.INFO):  # (RECONCILER_LOG=info, --log-format json)
            log.info("started %s", change.id, extra={"event": "change.started", "change": change})
        self._submit(index, partial(work, index))
        return None

    def _wind_down(self, interrupt: KeyboardInterrupt, lost: Mapping[int, Sought]) -> None:
        """A signal (Ctrl-C, SIGTERM): the pool's threads finish the changes they hold (those
        not started skip themselves: the guard says stopped), and what came back is reported;
        nothing new starts (apply_plan skips the rest). A second signal leaves at once."""
        self.run.interrupted = interrupt
        self.pool.close()  # every task run: every outcome is in the queue now
        for index in lost:
            if index not in self.results:
                self.finish(index, self.run.failed(index, UNKNOWN_AFTER_SIGNAL))
        while True:
            try:
                index, outcome = self.done.get_nowait()
            except queue.Empty:
                break
            self.in_flight.discard(index)
            if isinstance(outcome, Sought):  # no lookup after a signal: the next run's
                outcome = self.run.failed(index, UNKNOWN_AFTER_SIGNAL)
            if index not in self.results:
                self.finish(index, outcome)
        for index in sorted(self.in_flight):  # taken off the queue as the signal came
            if index not in self.results:
                self.finish(index, self.run.failed(index, UNKNOWN_AFTER_SIGNAL))
        self.in_flight.clear()

    def _settle(self, index: int, result: ChangeResult) -> None:
        """Record a result and start the dependents it unblocks (a loop: chains can be long)."""
        todo = [(index, result)]
        while todo:
            index, result = todo.pop()
            self.finish(index, result)
            for dependent in self.dependents.pop(index, ()):
                self.blocked[dependent] -= 1
                if self.blocked[dependent] == 0:
                    del self.blocked[dependent]
                    skipped = self._start(dependent)
                    if skipped is not None:
                        todo.append((dependent, skipped))

    def _submit(self, index: int, work: Callable[[], ChangeResult | Sought]) -> None:
        self.in_flight.add(index)
        self.pool.submit(partial(self._work, index, work))

    def _work(self, index: int, work: Callable[[], ChangeResult | Sought]) -> None:
        try:
            outcome = work()
        except BaseException as error:  # the stage must still hear back, or it waits forever
            outcome = self.run.failed(index, f"internal error: {error!r}")
        self.done.put((index, outcome))

    def _look_up(self, lost: Mapping[int, Sought]) -> None:
        """Found ones are ours, the others are created again while the budget lasts."""
        for index, step in self.lookup.lost_round(lost).items():
            if isinstance(step, Found):
                self._submit(index, partial(self.run.found, index, step))
            elif step is None:
                self._submit(index, partial(self.run.execute, index))
            else:
                self._settle(index, self.run.failed(index, step))


class _Run:
    def __init__(
        self,
        plan: Plan,
        api: StreamingAPI,
        live: LiveState,
        set_name: str | None,
        guard: Callable[[], str | None] | None = None,
    ):
        self.plan = plan
        self.api = api
        self.guard = guard
        self.interrupted: KeyboardInterrupt | None = None  # a signal arrived (see run_all)
        self.recheck = LiveRecheck(api, live, None)
        self.book = StreamBook(api, live, set_name)
        self.marks: StageMarks | None = None  # set by apply_plan once its pool exists
        self.book.note_plan(plan)
        prior = ownership_of(live, set_name).intents if set_name is not None else {}
        self.finder = Finder(api, self.book, live.broadcast_by_id, prior)
        self.broadcast_names = {b.id: str(b.get("name") or "") for b in live.broadcasts}
        self.created: dict[tuple[Resource, str], int] = {}
        self.deps = _dependencies(plan)
        # Streams this plan deletes or releases (the release record replaces the whole marker):
        # no point writing their markers on the way down.
        self.doomed = {
            c.target_id
            for c in plan.changes
            if c.resource is Resource.STREAM
            and c.action in (Action.DELETE, Action.CLEANUP, Action.ORPHAN)
            and c.held is None
            and c.target_id is not None
        }

    # --- scheduling --------------------------------------------------------------------------

    def gate(self, index: int, results: Mapping[int, ChangeResult]) -> ChangeResult | str | None:
        """None: run it now; "wait": a dependency has no result yet; a result: held or skipped."""
        change = self.plan.changes[index]
        if change.held is not None:
            return ChangeResult(change, Outcome.HELD, detail=change.held)
        for dep in self.deps[index]:
            if dep not in results:
                return "wait"
            outcome = results[dep].outcome
            if outcome is not Outcome.DONE:
                cause = self.plan.changes[dep].id
                return self.skipped(index, f"{cause} {_past(outcome)}")
        return None

    def skipped(self, index: int, cause: str) -> ChangeResult:
        return ChangeResult(self.plan.changes[index], Outcome.SKIPPED, detail=cause)

    def failed(self, index: int, why: str) -> ChangeResult:
        return ChangeResult(self.plan.changes[index], Outcome.FAILED, detail=redact_text(why))

    def execute(self, index: int) -> ChangeResult | Sought:
        change = self.plan.changes[index]
        work = self._create if change.action is Action.CREATE else self._dispatch
        return self._guarded(index, partial(work, index))

    def found(self, index: int, found: Found) -> ChangeResult | Sought:
        """A create whose object the account holds: ours, recorded like a create that answered."""
        return self._guarded(index, partial(self._created, index, found))

    def _guarded(
        self, index: int, work: Callable[[], ChangeResult | Sought]
    ) -> ChangeResult | Sought:
        stop = self.guard() if self.guard is not None else None
        if stop is not None:  # checked on the worker, right before the change's first write
            return self.skipped(index, stop)
        try:
            return work()
        except Held as held:
            return ChangeResult(self.plan.changes[index], Outcome.HELD, detail=str(held))
        except ReconcilerError as error:
            return self.failed(index, str(error))
        except Exception as error:  # an unexpected bug must still give this change a result
            return self.failed(index, f"internal error: {type(error).__name__}: {error}")

    # --- actions -----------------------------------------------------------------------------

    def _dispatch(self, index: int) -> ChangeResult:
        change = self.plan.changes[index]
        fresh = self.recheck.check(change)  # what the change's marker write merges beside
        action = change.action
        if action is Action.CLEANUP:
            target = self._target(change)
            self.api.delete_stream(target)
            self.book.forget_stream(target)
        elif action is Action.DELETE_RECORDING:
            target = self._target(change)
            self.api.delete_video(target)
        elif change.resource is Resource.STREAM:
            target = self._stream_change(change, fresh)
        else:
            target = self._broadcast_change(index, change)
        self._settled(index, fresh)
        return ChangeResult(change, Outcome.DONE, object_id=target)

    def _settled(self, index: int, fresh: Reads) -> None:
        """The change is done: the marker edits it was the last of its stage to make are
        written now, beside the streams it re-read."""
        if self.marks is not None:
            self.marks.settled(index, fresh)

    def _stream_change(self, change: Change, fresh: Reads) -> int:
        target, action = self._target(change), change.action
        if action is Action.START_RECORDING:
            self.api.start_recording(target)
        elif action is Action.STOP_RECORDING:
            self.api.stop_recording(target)
        elif action is Action.DELETE:
            self.api.delete_stream(target)
            self.book.forget_stream(target)
        elif action is Action.ORPHAN and "client_entity_data" not in change.body:
            self.book.edit_marker(target, lambda _marker: None)
            self.book.flush(target, fresh)
        else:  # UPDATE, ADOPT, ORPHAN with a body, ACTIVATE, DEACTIVATE: one PATCH, with the
            # marker edits still pending on the stream
            key = None if change.action is Action.ORPHAN else change.key
            self.book.write_stream(target, key, change.body, fresh=fresh)
        return target

    def _broadcast_change(self, index: int, change: Change) -> int:
        target, action = self._target(change), change.action
        if action is Action.DELETE:
            self.api.delete_broadcast(target)
            self.book.forget_broadcast(change.key, target, skip=self.doomed, origin=index)
            return target
        if action is Action.ORPHAN:
            self.book.forget_broadcast(
                change.key, target, skip=self.doomed, release=True, origin=index
            )
            return target
        body = dict(change.body)
        stream_ids = self._stream_ids(change) if change.stream_refs else None
        if stream_ids is not None:
            body["stream_ids"] = stream_ids
        if body:
            if "name" not in body and self.broadcast_names.get(target):
                body["name"] = self.broadcast_names[target]
            self.api.update_broadcast(target, body)
            if stream_ids is not None:  # what a later re-check of its streams must read
                self.recheck.note_streams(target, stream_ids)
        if action is Action.ADOPT and stream_ids is None:
            stream_ids = self.recheck.broadcast_streams(target)
        if stream_ids is not None:
            # Record on the streams it uses now, then drop it from those it left (never unowned).
            self.book.record_broadcast(stream_ids, change.key, target, origin=index)
            self.book.forget_broadcast(
                change.key, target, skip=set(stream_ids) | self.doomed, origin=index
            )
        return target

    def create_body(self, change: Change) -> tuple[Json, list[int]]:
        """What a create sends, and a broadcast's stream ids (raises if one has no id)."""
        body = dict(change.body)
        stream_ids: list[int] = []
        if change.resource is Resource.BROADCAST:
            stream_ids = self._stream_ids(change)
            if change.stream_refs:
                body["stream_ids"] = stream_ids
        return body, stream_ids

    def _create(self, index: int) -> ChangeResult | Sought:
        change = self.plan.changes[index]
        body, stream_ids = self.create_body(change)
        try:
            if change.resource is Resource.STREAM:
                answer = self.api.create_stream(body)
            else:
                answer = self.api.create_broadcast(body, find_created=False)
        except AmbiguousCreate as error:
            return lost_create(change.resource, body, stream_ids, error)
        if not answer:  # created, answered without a body: the stage finds all such in one sweep
            return Sought(body, tuple(stream_ids), CREATED_WITHOUT_BODY, committed=True)
        return self._created(index, Found(Sought(body, tuple(stream_ids)), answer, ""))

    def _created(self, index: int, found: Found) -> ChangeResult:
        """Bookkeeping once a create's object is known: its id, and a broadcast in our markers
        (written with the stream's next PATCH, which also clears the intent)."""
        change = self.plan.changes[index]
        body, stream_ids, answer = found.sought.body, found.sought.stream_ids, found.answer
        object_id = int(answer["id"])
        self.created[(change.resource, change.key)] = object_id
        if change.resource is Resource.STREAM:
            self.book.note_stream(change.key, object_id, body, answer)
            if found.detail != FOUND_BEFORE_CREATING:
                self.book.note_created(object_id)
        else:
            self.finder.known_broadcasts.add(object_id)
            try:
                self.book.record_broadcast(stream_ids, change.key, object_id, origin=index)
            except ReconcilerError as error:
                raise ReconcilerError(
                    f"broadcast created (id {object_id}) but recording it in the stream markers "
                    f"failed: {error}; the next run adopts it by its name"
                ) from error
        self._settled(index, {})
        return ChangeResult(change, Outcome.DONE, detail=found.detail, object_id=object_id)

    # --- ids ---------------------------------------------------------------------------------

    def _target(self, change: Change) -> int:
        if change.target_id is not None:
            return change.target_id
        created = self.created.get((change.resource, change.key))
        if created is None:
            raise _Unresolved(f"{change.resource} '{change.key}' has no id: it was not created")
        return created

    def _stream_ids(self, change: Change) -> list[int]:
        ids: list[int] = []
        for ref in change.stream_refs:
            stream_id = self.book.stream_id(ref)
            if stream_id is None:
                raise _Unresolved(f"stream '{ref}' has no id: it does not exist in the account")
            ids.append(stream_id)
        return ids


def _dependencies(plan: Plan) -> list[tuple[int, ...]]:
    """Declared `depends_on` plus the implicit ones: a change on an object needs its create or
    adoption first, and a broadcast needs the create or adoption of the streams it uses."""
    changes = plan.changes
    makers: dict[tuple[Resource, str], list[int]] = defaultdict(list)  # creates and adoptions
    for index, change in enumerate(changes):
        if change.action in (Action.CREATE, Action.ADOPT):
            makers[(change.resource, change.key)].append(index)
    by_id: dict[str, list[int]] = defaultdict(list)
    if any(change.depends_on for change in changes):
        for index, change in enumerate(changes):
            by_id[change.id].append(index)
    out: list[tuple[int, ...]] = []
    for index, change in enumerate(changes):
        # The object's create or adoption (not another of its own kind), its streams' both.
        implicit = [
            dep
            for dep in makers.get((change.resource, change.key), ())
            if changes[dep].action is not change.action
        ]
        for ref in change.stream_refs:
            implicit += makers.get((Resource.STREAM, ref), ())
        declared = [dep for name in change.depends_on for dep in by_id.get(name, ())]
        if not implicit and not declared:
            out.append(())
            continue
        deps = {dep for dep in implicit if dep != index and changes[dep].stage <= change.stage}
        # A declared dependency on a later stage cannot be met: keep it so the change is skipped.
        deps.update(dep for dep in declared if dep != index)
        out.append(tuple(sorted(deps)))
    return out


def _past(outcome: Outcome) -> str:
    words = {Outcome.FAILED: "failed", Outcome.SKIPPED: "was skipped", Outcome.HELD: "is held"}
    return words.get(outcome, str(outcome))
